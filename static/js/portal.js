// Small behaviours shared by every page. No inline scripts: the CSP allows only our own files.
(function () {
  "use strict";
  // htmx sends the CSRF token with every request it makes.
  document.body.addEventListener("htmx:configRequest", function (event) {
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (token) {
      event.detail.headers["X-CSRFToken"] = token.value;
    }
  });
  // A control that only works once htmx or a page script has bound it comes disabled from the server
  // (data-bound-by-script), so a choice made while the scripts still load is not silently lost. htmx
  // fires htmx:load on the body after it has processed the page, which is after DOMContentLoaded and so
  // after every deferred page script; swapped-in content fires it again for its own controls.
  htmx.onLoad(function (root) {
    var controls = Array.prototype.slice.call(root.querySelectorAll("[data-bound-by-script]"));
    if (root.matches && root.matches("[data-bound-by-script]")) {
      controls.push(root);
    }
    controls.forEach(function (control) {
      control.removeAttribute("data-bound-by-script");
      control.disabled = false;
    });
    markScrollingTables();
    if (root === document.body) {
      document.documentElement.dataset.ready = "true";  // what tests/browser's page_ready waits for
    }
  });
  // A table wider than its box scrolls sideways: its box takes the keyboard focus (so the arrow keys
  // scroll it) and says so; one that fits is no extra Tab stop (SPEC X-5).
  function markScrollingTables() {
    document.querySelectorAll(".table-responsive").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", "表格（可左右滚动）");
        box.classList.add("is-scrolling");
      } else if (box.classList.contains("is-scrolling")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
        box.classList.remove("is-scrolling");
      }
    });
  }
  window.addEventListener("resize", markScrollingTables);
  // A form submits once: a double click must not do a thing twice (UI.md, "Dialogs").
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.submitted === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.submitted = "1";
    window.setTimeout(function () { form.dataset.submitted = ""; }, 4000);
  });
  // Bootstrap takes role="dialog" off a dialog it hides; the dialog keeps its role (and so its
  // aria-labelledby keeps its meaning) while hidden, as the server sent it.
  document.addEventListener("hidden.bs.modal", function (event) {
    event.target.setAttribute("role", "dialog");
  });
  // 看不清？换一张: the login captcha asks the server for a new challenge.
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".captcha-refresh");
    if (!button) {
      return;
    }
    fetch(button.dataset.refreshUrl, { headers: { "X-Requested-With": "XMLHttpRequest" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var group = button.closest(".captcha-group");
        group.querySelector("input[type=hidden]").value = data.key;
        button.querySelector("img").src = data.image_url;
        var answer = group.querySelector("input[type=text]");
        answer.value = "";
        if (event.isTrusted) {  // not when sms.js redraws it after a send
          answer.focus();
        }
      });
  });
})();
