// 导入人员名单 (templates/rosters/imports/page.html, SPEC ROS-1): choosing a file with 【选择导入文件】 starts
// the upload at once, as in the handbook ("选中要导入的文件，点击【打开】"); a wrong type or a file over the
// limit is named at once instead (the server checks again). While a form is sent every button of the page
// is disabled, so a double click sends nothing twice (the server also ignores a repeated form).
// No inline scripts (CSP).
(function () {
  "use strict";

  var EXTENSIONS = [".xlsx", ".xls", ".ods"];

  function sizeText(bytes) {
    if (bytes >= 1048576) {
      return (bytes / 1048576).toFixed(1) + "MB";
    }
    if (bytes >= 1024) {
      return Math.ceil(bytes / 1024) + "KB";
    }
    return bytes + "字节";
  }

  function problemOf(file, maxBytes) {
    var name = file.name.toLowerCase();
    var known = EXTENSIONS.some(function (extension) { return name.slice(-extension.length) === extension; });
    if (!known) {
      return "文件格式不正确：请选择 Excel 文件（.xlsx、.xls 或 .ods）。";
    }
    if (maxBytes && file.size > maxBytes) {
      return "文件过大：单个文件不能超过 " + sizeText(maxBytes) + "，请分成多个文件逐个导入。";
    }
    return "";
  }

  function lockPage() {
    Array.prototype.forEach.call(document.querySelectorAll(".roster-import button, .roster-import .import-choose"), function (element) {
      element.setAttribute("disabled", "disabled");
      element.classList.add("disabled");
    });
  }

  function init() {
    var page = document.querySelector(".roster-import");
    if (!page) {
      return;
    }
    var sending = false;
    Array.prototype.forEach.call(page.querySelectorAll("form.import-form"), function (form) {
      form.addEventListener("submit", function (event) {
        if (sending) {
          event.preventDefault();
          return;
        }
        sending = true;
        window.setTimeout(lockPage, 0); // after the browser has taken the form's values
      });
    });

    var upload = document.getElementById("roster-import-upload");
    if (!upload) {
      return;
    }
    var input = document.getElementById("roster-import-file");
    var chosen = document.getElementById("roster-import-chosen");
    var busy = document.getElementById("roster-import-busy");
    var maxBytes = parseInt(input.getAttribute("data-max-bytes"), 10);
    function fileChosen() {
      var file = input.files[0];
      chosen.classList.remove("invalid");
      if (!file) {
        chosen.textContent = "";
        return;
      }
      var problem = problemOf(file, maxBytes);
      chosen.textContent = "已选择：" + file.name + "（" + sizeText(file.size) + "）" + (problem ? " " + problem : "");
      if (problem) {
        chosen.classList.add("invalid");
        input.value = "";
        return;
      }
      busy.classList.add("shown");
      if (upload.requestSubmit) {
        upload.requestSubmit();
      } else {
        upload.submit();
        sending = true;
        lockPage();
      }
    }
    input.addEventListener("change", fileChosen);
    // A file chosen while this script was still loading fired its change event before anyone listened:
    // start its upload now instead of leaving the page waiting for a change that already happened.
    if (input.files.length) {
      fileChosen();
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
