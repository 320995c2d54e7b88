// A cycler file sent from a run's page (form[data-upload]): posted to the upload API as a
// token upload is, through the browser session with the page's CSRF token in the X-CSRFToken
// header; the progress bar follows the upload's progress events, then the dataset's processing
// fragment is shown, which htmx asks for again until the processing has finished.
(function () {
  "use strict";

  function part(form, selector) { return form.querySelector(selector); }

  function showError(form, text) {
    var box = part(form, ".upload-error");
    box.textContent = text;
    box.hidden = !text;
  }

  function showProgress(form, percent) {
    var bar = part(form, ".upload-progress progress");
    bar.value = percent;
    part(form, ".upload-percent").textContent = percent + " %";
  }

  // The refusal as the API words it: {"detail": "..."} or {"file": ["..."]}.
  function refusal(status, text) {
    var body = null;
    try { body = JSON.parse(text); } catch (ignored) { body = null; }
    if (body && typeof body === "object") {
      if (body.detail) return String(body.detail);
      var messages = [];
      Object.keys(body).forEach(function (field) {
        messages.push([].concat(body[field]).join(" "));
      });
      if (messages.length) return messages.join(" ");
    }
    return "The upload was refused (HTTP " + status + ").";
  }

  function showProcessing(form, answer) {
    var results = form.nextElementSibling;
    var id = "processing-" + answer.dataset;
    var slot = document.getElementById(id);
    if (!slot || !results.contains(slot)) {
      slot = document.createElement("div");
      slot.id = id;
      results.insertBefore(slot, results.firstChild);
    }
    if (!answer.created) {
      showError(form, "");
      var note = document.createElement("p");
      note.className = "explain";
      note.textContent = "These bytes were uploaded before, as " + answer.dataset + "; nothing was queued again.";
      results.insertBefore(note, slot);
    }
    var url = form.getAttribute("data-processing-url").replace("__dataset__", encodeURIComponent(answer.dataset));
    window.htmx.ajax("GET", url, { target: slot, swap: "outerHTML" });
  }

  function send(form) {
    var input = part(form, 'input[type="file"]');
    var file = input.files && input.files[0];
    if (!file) {
      showError(form, "Choose the cycler's file first.");
      return;
    }
    var data = new FormData();
    data.append("file", file, file.name);
    var request = new XMLHttpRequest();
    var button = part(form, 'button[type="submit"]');
    request.open("POST", form.action);
    request.setRequestHeader("X-CSRFToken", part(form, 'input[name="csrfmiddlewaretoken"]').value);
    request.setRequestHeader("Accept", "application/json");
    // Listeners on .upload go on before send(), or the browser sends no progress events.
    request.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) showProgress(form, Math.round(100 * event.loaded / event.total));
    });
    request.addEventListener("load", function () {
      button.disabled = false;
      form.removeAttribute("aria-busy");
      if (request.status === 200 || request.status === 202) {
        showError(form, "");
        input.value = "";
        showProcessing(form, JSON.parse(request.responseText));
      } else {
        showError(form, file.name + ": " + refusal(request.status, request.responseText));
      }
    });
    request.addEventListener("error", function () {
      button.disabled = false;
      form.removeAttribute("aria-busy");
      showError(form, file.name + ": the connection to the server was lost during the upload; send it again.");
    });
    showError(form, "");
    showProgress(form, 0);
    part(form, ".upload-progress").hidden = false;
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    request.send(data);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-upload]");
    if (!form) return;
    event.preventDefault();
    send(form);
  });
})();
