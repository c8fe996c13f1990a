// 参保批次管理 (SPEC BAT-1, BAT-2, BAT-5). No inline scripts: the CSP allows only our own files.
(function () {
  "use strict";
  // A dialog the server marks with data-show-on-load (a refused 办理 with its message beside the
  // field) opens as soon as the page is shown.
  document.querySelectorAll(".modal[data-show-on-load]").forEach(function (dialog) {
    window.bootstrap.Modal.getOrCreateInstance(dialog).show();
  });
  // UI.md: a disabled button says why in a tooltip (专用收据; the 办理 buttons say it as text beside them).
  document.querySelectorAll("[data-bs-toggle=tooltip]").forEach(function (element) {
    window.bootstrap.Tooltip.getOrCreateInstance(element);
  });
  // 【批次删除】: one confirmation dialog for every row; the row's button tells it which batch.
  var deleteDialog = document.getElementById("batch-delete-dialog");
  if (deleteDialog) {
    deleteDialog.addEventListener("show.bs.modal", function (event) {
      var button = event.relatedTarget;
      if (!button || !button.dataset.deleteUrl) {
        return;
      }
      deleteDialog.querySelector(".batch-delete-form").action = button.dataset.deleteUrl;
      deleteDialog.querySelector(".batch-delete-number").textContent = button.dataset.batchNumber;
    });
  }
  // The first field of a 办理 dialog takes the cursor when it opens.
  document.querySelectorAll(".batch-open-dialog").forEach(function (dialog) {
    dialog.addEventListener("shown.bs.modal", function () {
      var field = dialog.querySelector(".is-invalid") || dialog.querySelector("input[type=text]");
      if (field) {
        field.focus();
      }
    });
  });
})();
