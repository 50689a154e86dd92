/* Self-check, no dependencies: records load errors and broken images on <html> as data attributes
   (data-check="ok" or "failed"), which headless browsers and tests can read from the DOM. */
(function () {
  "use strict";
  var errors = [];
  window.addEventListener("error", function (event) {
    var target = event.target;
    var url = target && target !== window ? target.currentSrc || target.src || target.href : "";
    errors.push(url ? "failed to load " + url : String(event.message));
  }, true);
  window.addEventListener("unhandledrejection", function (event) {
    errors.push("unhandled rejection: " + event.reason);
  });
  var consoleError = console.error;
  console.error = function () {
    errors.push(Array.prototype.join.call(arguments, " "));
    return consoleError.apply(console, arguments);
  };
  window.addEventListener("load", function () {
    var images = document.images, broken = 0, root = document.documentElement;
    for (var i = 0; i < images.length; i++) {
      if (!(images[i].complete && images[i].naturalWidth > 0)) {
        broken += 1;
        images[i].classList.add("broken");
      }
    }
    root.setAttribute("data-images", String(images.length));
    root.setAttribute("data-images-broken", String(broken));
    root.setAttribute("data-errors", String(errors.length));
    if (errors.length) root.setAttribute("data-error-log", errors.join(" | "));
    root.setAttribute("data-check", broken || errors.length ? "failed" : "ok");
  });
})();
