"""Ship a full-mode run's sample sets with dlcanon: copy `OUT/NAME/<stem>.npz` to
`src/dlcanon/assets/samples/NAME.<stem>.npz` and enter their sha256 in `experiments/full_samples.py`'s `SHIPPED`.

    dlcanon reproduce progan_growth --full --out reports/full
    python scripts/ship_samples.py reports/full progan_growth
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from dlcanon.experiments.full_samples import SHIPPED, decode, sha256

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "dlcanon"
MODULE = PACKAGE / "experiments" / "full_samples.py"


def ship(out: Path, name: str) -> dict[str, str]:
    """Copy every set of `name` in `out` into the package; return their keys and hashes."""
    sets = sorted((out / name).glob("*.npz"))
    if not sets:
        raise SystemExit(f"no sample sets in {out / name}: run `dlcanon reproduce {name} --full --out {out}` first")
    shipped = {}
    for path in sets:
        data = path.read_bytes()
        record = decode(data).record or {}
        if record.get("mode") != "full" or record.get("name") != name:
            raise SystemExit(f"{path} is from {record.get('command')!r}, not a full-mode run of {name}")
        key = f"{name}.{path.stem}"
        shutil.copyfile(path, PACKAGE / "assets" / "samples" / f"{key}.npz")
        shipped[key] = sha256(data)
    return shipped


def rewrite(table: dict[str, str]) -> None:
    """Rewrite the `SHIPPED = {...}` literal of the module with `table`, sorted."""
    body = "".join(f'    "{k}": "{v}",\n' for k, v in sorted(table.items()))
    text = MODULE.read_text(encoding="utf-8")
    text, n = re.subn(r"SHIPPED: dict\[str, str\] = \{.*?\n?\}", f"SHIPPED: dict[str, str] = {{\n{body}}}", text,
                      count=1, flags=re.S)  # fmt: skip
    if n != 1:
        raise SystemExit(f"no SHIPPED table found in {MODULE}")
    MODULE.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    out = Path(sys.argv[1])
    table = dict(SHIPPED)
    for name in sys.argv[2:]:
        table.update(ship(out, name))
    rewrite(table)
    for key in sorted(table):
        print(f"{key}: {table[key][:16]}…")
