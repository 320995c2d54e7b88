// Forms of the pages: "Add a row" under a formset copies its template row (no inline scripts).
(function () {
  "use strict";

  function addRow(prefix) {
    var set = document.querySelector('[data-formset="' + prefix + '"]');
    if (!set) return;
    var total = set.querySelector('input[name="' + prefix + '-TOTAL_FORMS"]');
    var template = set.querySelector("template[data-formset-template]");
    var index = parseInt(total.value, 10);
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    var body = set.querySelector("[data-formset-rows]");
    var holder = document.createElement("tbody");
    holder.innerHTML = html;
    var row = holder.firstElementChild;
    row.querySelectorAll("[aria-label]").forEach(function (control) {
      control.setAttribute("aria-label", control.getAttribute("aria-label").replace(/row \d+$/, "row " + (index + 1)));
    });
    body.appendChild(row);
    total.value = String(index + 1);
    var first = row.querySelector("input:not([type=hidden]), select");
    if (first) first.focus();
  }

  // Once the form is being saved, the numbers shown as you type are not asked for again.
  document.addEventListener("submit", function (event) {
    if (event.target.id === "record-form") event.target.dataset.saving = "1";
  });
  document.addEventListener("htmx:confirm", function (event) {
    var form = document.getElementById("record-form");
    if (form && form.dataset.saving && event.target.id === "derived") event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-formset-add]");
    if (!button) return;
    event.preventDefault();
    addRow(button.getAttribute("data-formset-add"));
  });
})();
