// 参保编码申请 (SPEC CODE-3): a dialog the server marks with data-show-on-load (提交失败!该企业已申请过参保
// 编码。…) opens as soon as the page is shown; 【确定】 closes it and leaves the form as it was.
(function () {
  "use strict";
  document.querySelectorAll(".modal[data-show-on-load]").forEach(function (dialog) {
    window.bootstrap.Modal.getOrCreateInstance(dialog).show();
  });
})();
