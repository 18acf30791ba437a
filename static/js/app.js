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
  // Every POST form submits in place (htmx boost) so a refusal (bad input, a rule, a stale form)
  // is shown inside that form with what the user typed still in it, instead of on an error page.
  // Opt out with data-no-boost. Success answers are redirects (a new page) as before.
  function boostForms(root) {
    var forms = root.querySelectorAll ? root.querySelectorAll("form[method=post]") : [];
    for (var i = 0; i < forms.length; i++) {
      var form = forms[i];
      if (form.hasAttribute("data-no-boost") || form.hasAttribute("hx-boost")) { continue; }
      form.setAttribute("data-inline-errors", "");
      if (!form.hasAttribute("hx-post")) {
        form.setAttribute("hx-boost", "true");
        if (window.htmx) { window.htmx.process(form); }
      }
    }
  }
  document.addEventListener("DOMContentLoaded", function () { boostForms(document); });
  document.addEventListener("htmx:load", function (event) { boostForms(event.target); });
  function errorSlot(form) {
    var slot = form.querySelector(":scope > .form-error");
    if (!slot) {
      slot = document.createElement("div");
      slot.className = "form-error";
      slot.setAttribute("role", "alert");
      form.insertBefore(slot, form.firstChild);
    }
    return slot;
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    var config = event.detail.requestConfig;
    var elt = (config && config.elt) || event.detail.elt;
    var form = elt && elt.closest && elt.closest("form[data-inline-errors]");
    if (!form) {
      // Any other htmx request (a GET filter form, a pager, a poll): htmx does not swap a 4xx/5xx answer, so
      // the refusal the server addressed (HX-Retarget) would be silently dropped. A form gets it inline
      // with its inputs as typed; anything else where the server sent it (#messages).
      var getForm = elt && elt.closest && elt.closest("form");
      if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget")) {
        if (getForm) {
          event.detail.target = errorSlot(getForm);
          event.detail.swapOverride = "innerHTML";
          getForm.classList.add("has-error");
        }
        event.detail.shouldSwap = true;
        event.detail.isError = false;
      } else if (xhr.status < 400 && getForm) {
        var stale = getForm.querySelector(":scope > .form-error");
        if (stale) { stale.remove(); getForm.classList.remove("has-error"); }
      }
      return;
    }
    if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget")) {
      // the error fragment goes into the form; the inputs stay as typed
      event.detail.target = errorSlot(form);
      event.detail.swapOverride = "innerHTML";
      event.detail.shouldSwap = true;
      event.detail.isError = false;
      form.classList.add("has-error");
    } else if (xhr.status >= 400 && form.hasAttribute("hx-boost")) {
      // a view that answers a refusal with its whole page (and the reason in it): show that page
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else if (xhr.status < 400) {
      var old = form.querySelector(":scope > .form-error");
      if (old) { old.remove(); form.classList.remove("has-error"); }
    }
  });
  // A polled element (data-poll, hx-trigger="every Ns") asks nothing while its tab is hidden and catches up
  // as soon as it is shown again. (A trigger filter such as [document.visibilityState === 'visible'] would
  // need eval, which the CSP and allowEval:false forbid: htmx logs an error and polls anyway.)
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (document.hidden && elt && elt.hasAttribute && elt.hasAttribute("data-poll")) { event.preventDefault(); }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden || !window.htmx) { return; }
    var polled = document.querySelectorAll("[data-poll][hx-get]");
    for (var i = 0; i < polled.length; i++) { window.htmx.trigger(polled[i], "poll:now"); }
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
