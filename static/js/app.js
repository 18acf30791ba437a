// The app's own small behaviours (CSP allows only scripts from this origin; no inline JS).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.value || source.textContent.trim());
        copy.textContent = "Copied";
      }
    }
    var close = event.target.closest("[data-dialog-close]");
    if (close) {
      var dialog = close.closest("dialog");
      if (dialog) { dialog.close(); dialog.remove(); }
    }
  });
  // A fragment swapped into #dialog-slot that contains a <dialog> opens it as a modal.
  document.addEventListener("htmx:afterSwap", function (event) {
    var dialog = event.target.querySelector && event.target.querySelector("dialog[data-autoopen]");
    if (dialog && !dialog.open) { dialog.showModal(); }
  });
  // Answer errors from htmx requests visibly instead of silently doing nothing.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (event.detail.target && xhr.getResponseHeader("HX-Retarget")) { return; }
    var box = document.getElementById("messages");
    if (box) {
      var div = document.createElement("div");
      div.className = "msg msg-error";
      div.textContent = "Request failed (" + xhr.status + "): " + (xhr.responseText || "").replace(/<[^>]*>/g, " ").trim().slice(0, 300);
      box.appendChild(div);
    }
  });
  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("messages");
    if (box) {
      var div = document.createElement("div");
      div.className = "msg msg-error";
      div.textContent = "The server could not be reached.";
      box.appendChild(div);
    }
  });
})();
