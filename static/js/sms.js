// 【获取验证码】 on any form (SPEC CODE-2, HND-1): a button marked data-sms-send asks the server by htmx
// (its own data-hx-post, data-hx-include and data-hx-target) and then counts down the seconds before another code may
// be sent (60 s, or what the server says is left). data-sms-result names the id of the line the server
// answers into: <span data-retry-after="N">message</span>. Several buttons on a page work independently.
(function () {
  "use strict";

  function setUp(button) {
    var result = document.getElementById(button.dataset.smsResult);
    if (!result || button.dataset.smsReady === "1") {
      return;
    }
    button.dataset.smsReady = "1";
    var label = button.textContent;
    var timer = null;

    function ready() {
      window.clearInterval(timer);
      timer = null;
      button.disabled = false;
      button.textContent = label;
    }

    function countDown(seconds) {
      var left = seconds;
      button.disabled = true;
      button.textContent = left + "秒后重新获取";
      window.clearInterval(timer);
      timer = window.setInterval(function () {
        left -= 1;
        if (left <= 0) {
          ready();
        } else {
          button.textContent = left + "秒后重新获取";
        }
      }, 1000);
    }

    document.body.addEventListener("htmx:beforeRequest", function (event) {
      if (event.detail.elt === button) {
        button.disabled = true;
      }
    });
    // A refusal by a limit comes as HTTP 429 (SPEC SEC-3); its line is shown like any other answer.
    document.body.addEventListener("htmx:beforeSwap", function (event) {
      if (event.detail.target === result && event.detail.xhr.status === 429) {
        event.detail.shouldSwap = true;
        event.detail.isError = false;
      }
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target !== result) {
        return;
      }
      // A public page's captcha is spent by a right answer: draw a new one for the next send.
      var captcha = document.querySelector("#" + button.id.replace("sms-send", "sms-captcha") + " .captcha-refresh");
      if (captcha) {
        captcha.click();
      }
      var line = result.querySelector("[data-retry-after]");
      var seconds = line ? parseInt(line.dataset.retryAfter, 10) || 0 : 0;
      // A wait of minutes (the hourly limit) is said in the message; the button is not held that long.
      if (seconds > 0 && seconds <= 120) {
        countDown(seconds);
      } else {
        ready();
      }
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.elt === button && !event.detail.successful && event.detail.xhr.status !== 429) {
        result.replaceChildren();
        var line = document.createElement("span");
        line.className = "sms-result text-danger";
        line.textContent = "验证码发送失败，请刷新页面后重试。";
        result.appendChild(line);
        ready();
      }
    });
  }

  document.querySelectorAll("[data-sms-send]").forEach(setUp);
})();
