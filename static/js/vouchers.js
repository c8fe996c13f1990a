// 缴费凭证管理 and 新增缴费信息 (SPEC PAY-2, PAY-3). No inline scripts: the CSP allows only our own files.
(function () {
  "use strict";
  // UI.md: a disabled 【新增缴费信息】 says why in a tooltip.
  document.querySelectorAll("[data-bs-toggle=tooltip]").forEach(function (element) {
    window.bootstrap.Tooltip.getOrCreateInstance(element);
  });

  var form = document.getElementById("voucher-form");
  if (!form) {
    return;
  }
  var dialog = document.getElementById("voucher-confirm-dialog");
  var refundSection = document.getElementById("refund-section");

  // SPEC PAY-3: 退款信息填报 appears when the amount exceeds the ticked batches' premiums; the server's
  // fragment (payments:voucher_refund_preview) says so in data-refund.
  document.body.addEventListener("htmx:afterSettle", function () {
    var preview = document.getElementById("refund-preview");
    if (preview && refundSection) {
      refundSection.hidden = preview.dataset.refund !== "1";
    }
  });

  // The confirmation shows what will be submitted.
  if (dialog) {
    dialog.addEventListener("show.bs.modal", function () {
      var numbers = Array.prototype.map.call(
        form.querySelectorAll("input[name=batches]:checked"),
        function (box) { return box.value; }
      );
      dialog.querySelector(".voucher-confirm-batches").textContent = numbers.length ? numbers.join("、") : "（未勾选）";
      var amount = form.querySelector("input[name=amount]").value.trim();
      dialog.querySelector(".voucher-confirm-amount").textContent = amount || "（未填写）";
    });
  }

  // Enter in a field would submit without the confirmation (the browser "clicks" the form's default
  // button, the dialog's own): unless the dialog is open, open it instead. stopPropagation keeps
  // portal.js from counting the refused submit as done.
  form.addEventListener("submit", function (event) {
    if (dialog && dialog.classList.contains("show")) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    if (dialog) {
      window.bootstrap.Modal.getOrCreateInstance(dialog).show();
    }
  });
})();
