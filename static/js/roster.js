// 参保批次人员管理 (SPEC ROS-6, ROS-8): ticking rows, and the handbook's confirmation box (信息 / message /
// 【确定】【取消】) before 设置在职, 删除, 【批量设置为在职】 and 【批量删除】. The box's 【确定】 submits a plain
// POST form, so without this file nothing is changed by accident (the buttons simply do nothing).
(function () {
  "use strict";
  var dialog = document.getElementById("roster-confirm");
  if (!dialog) {
    return;
  }
  var bulkForm = document.getElementById("roster-bulk-form");
  var rowForm = document.getElementById("roster-row-form");
  var message = dialog.querySelector(".roster-confirm-message");
  var ok = dialog.querySelector(".roster-confirm-ok");
  var cancel = dialog.querySelector(".roster-confirm-cancel");
  var checkAll = document.querySelector(".roster-check-all");
  var selectedNote = document.querySelector(".roster-selected");
  var modal = window.bootstrap.Modal.getOrCreateInstance(dialog);
  var pending = null; // {form, action} submitted by 【确定】

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll(".roster-check"));
  }

  function ticked() {
    return boxes().filter(function (box) { return box.checked; });
  }

  function refreshSelection() {
    var count = ticked().length;
    if (selectedNote) {
      selectedNote.textContent = count ? "已选择 " + count + " 人" : "";
    }
    if (checkAll) {
      var all = boxes();
      checkAll.checked = all.length > 0 && count === all.length;
      checkAll.indeterminate = count > 0 && count < all.length;
    }
  }

  function ask(text, form, action) {
    message.textContent = text;
    pending = form ? { form: form, action: action } : null;
    ok.classList.toggle("d-none", !pending);
    cancel.textContent = pending ? "取消" : "关闭";
    modal.show();
  }

  if (checkAll) {
    checkAll.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = checkAll.checked; });
      refreshSelection();
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.classList && event.target.classList.contains("roster-check")) {
      refreshSelection();
    }
  });

  document.addEventListener("click", function (event) {
    var bulk = event.target.closest("[data-bulk-action]");
    if (bulk) {
      var count = ticked().length;
      if (!count) {
        ask("请先勾选要操作的人员。", null, null);
        return;
      }
      ask(bulk.dataset.confirm.replace("N", String(count)), bulkForm, bulk.dataset.bulkAction);
      return;
    }
    var row = event.target.closest("[data-row-action]");
    if (row) {
      ask(row.dataset.confirm, rowForm, row.dataset.rowAction);
    }
  });

  ok.addEventListener("click", function () {
    if (!pending) {
      return;
    }
    ok.disabled = true; // a double click must not post twice (UI.md, "Dialogs")
    pending.form.action = pending.action;
    pending.form.submit();
  });

  dialog.addEventListener("hidden.bs.modal", function () {
    pending = null;
    ok.disabled = false;
  });

  refreshSelection();
})();
