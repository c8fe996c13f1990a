// 清册校验结果 (SPEC VAL, BAT-4): the four tabs remember themselves in the URL (?tab=), the commitment
// letters enable 【确认提交】 only once 【我已阅读并同意】 is ticked, the 上传附件 dialog shows the chosen type's
// 使用情况 and, when closed with 【返回】 after a change, reloads the page so ✓已上传附件 and 【清册提交】 follow.
// The dialog 清册校验结果 listing the retired people (SPEC VAL-1) opens on load; its rows confirm 【移除】 in place
// (Bootstrap collapse). The other confirmations of 【移除】 are static/js/roster.js's. No inline scripts (CSP).
(function () {
  "use strict";

  // A dialog the server marks with data-show-on-load (清册校验结果 while anyone retired is left) opens at once.
  document.querySelectorAll(".modal[data-show-on-load]").forEach(function (dialog) {
    window.bootstrap.Modal.getOrCreateInstance(dialog).show();
  });
  // 【移除】 in that dialog steps aside for 【确定移除】/【取消】 (portal.css): the cursor follows, to 【确定移除】
  // and, on 【取消】, back to 【移除】, so a keyboard user is not left on a button that has disappeared.
  document.addEventListener("shown.bs.collapse", function (event) {
    if (event.target.classList.contains("retired-confirm")) {
      event.target.querySelector(".retired-confirm-ok").focus();
    }
  });
  document.addEventListener("hidden.bs.collapse", function (event) {
    if (event.target.classList.contains("retired-confirm")) {
      var remove = document.querySelector(".retired-remove[aria-controls='" + event.target.id + "']");
      if (remove) {
        remove.focus();
      }
    }
  });

  // Tabs: keep the open one in the URL, so a reload, a pagination link or an action comes back to it.
  document.addEventListener("shown.bs.tab", function (event) {
    var tab = event.target.dataset.tab;
    if (!tab || !window.history.replaceState) {
      return;
    }
    var url = new URL(window.location.href);
    url.searchParams.set("tab", tab);
    url.hash = "";
    window.history.replaceState(null, "", url.toString());
  });

  // Commitment letters (UI.md "Dialogs"): 【确认提交】 waits for 【我已阅读并同意】.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.classList || !box.classList.contains("letter-agree")) {
      return;
    }
    box.closest("form").querySelector(".letter-submit").disabled = !box.checked;
  });
  document.querySelectorAll(".letter-dialog").forEach(function (dialog) {
    dialog.addEventListener("hidden.bs.modal", function () {
      // 【X】 returns unchanged (SPEC BAT-4): the next opening asks again.
      var box = dialog.querySelector(".letter-agree");
      box.checked = false;
      dialog.querySelector(".letter-submit").disabled = true;
    });
  });

  // 上传附件: the chosen type's 使用情况 under the drop-down (SPEC VAL-6).
  var field = document.getElementById("batch-attachments");
  if (!field) {
    return;
  }
  var kind = field.querySelector(".attachment-kind");
  var help = field.querySelector(".attachment-kind-help");
  if (kind && help) {
    kind.addEventListener("change", function () {
      var option = kind.options[kind.selectedIndex];
      help.textContent = "使用情况：" + (option ? option.dataset.help : "");
    });
  }
  var modal = document.getElementById("batch-attachments-modal");
  var grid = field.querySelector(".attachment-grid");
  if (!modal || !grid) {
    return;
  }
  var changed = false;
  new MutationObserver(function () { changed = true; }).observe(grid, { childList: true });
  modal.addEventListener("hidden.bs.modal", function () {
    if (changed) {
      window.location.assign(modal.dataset.reloadUrl);
    }
  });
})();
