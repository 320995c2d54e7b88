// Behaviour of the site's pages, attached by data attributes (no inline scripts).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function attach(root) {
    // <select data-autosubmit>: choosing a value submits its form (the project switcher).
    root.querySelectorAll("[data-autosubmit]").forEach(function (control) {
      if (control.dataset.autosubmitBound) return;
      control.dataset.autosubmitBound = "1";
      control.addEventListener("change", function () {
        if (control.form) control.form.requestSubmit();
      });
    });
  }

  // Filters left empty stay out of the address a list page pushes into the history.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get") return;
    var parameters = event.detail.parameters;
    Object.keys(parameters).forEach(function (name) {
      if (parameters[name] === "") delete parameters[name];
    });
  });

  document.addEventListener("DOMContentLoaded", function () { attach(document); });
  // Parts of a page that htmx swapped in get the same behaviour.
  document.addEventListener("htmx:load", function (event) { attach(event.target); });
})();
