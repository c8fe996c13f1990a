// 经办人填报 and 参保信息变更申请 (SPEC HND-1, HND-2). No inline scripts (CSP): the pages load this file.
// - The select of codes (an account with several) switches at once.
// - On the change form, a ticked 变更事项 shows its row 原信息 | 新修改信息; unticked, the row hides.
// (【获取验证码】 is static/js/sms.js; the level-2 union list follows the level-1 one by htmx.)
(function () {
  "use strict";

  document.querySelectorAll("form.code-switch select").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.submit();
    });
  });

  var rows = document.getElementById("change-rows");
  if (!rows) {
    return;
  }
  var empty = rows.querySelector(".change-rows-empty");
  var head = rows.querySelector(".change-rows-head");

  function refresh() {
    var shown = 0;
    document.querySelectorAll("input.change-item").forEach(function (box) {
      var row = rows.querySelector('[data-change-row="' + box.value + '"]');
      if (row) {
        row.classList.toggle("d-none", !box.checked);
        if (box.checked) {
          shown += 1;
        }
      }
    });
    empty.classList.toggle("d-none", shown > 0);
    head.classList.toggle("d-none", shown === 0);
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("input.change-item")) {
      refresh();
    }
  });
  refresh();
})();
