// 【企业注册】 (SPEC ACC-2): 【获取验证码】 asks the server by htmx and then counts down the seconds
// before another code may be sent (60 s, or what the server says is left).
(function () {
  "use strict";
  var button = document.getElementById("sms-send");
  var result = document.getElementById("sms-result");
  if (!button || !result) {
    return;
  }
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
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target !== result) {
      return;
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
    if (event.detail.elt === button && !event.detail.successful) {
      result.innerHTML = "";
      var line = document.createElement("span");
      line.className = "sms-result text-danger";
      line.textContent = "验证码发送失败，请刷新页面后重试。";
      result.appendChild(line);
      ready();
    }
  });
})();
