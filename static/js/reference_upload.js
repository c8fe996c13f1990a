// 【上传参考数据】 (templates/admin/rosters/referenceload/upload.html): shows the chosen file's name and
// size, warns at once about a wrong type or a file over the limit (the server checks again), and while a
// large file uploads disables the button and says so. No inline scripts (CSP).
(function () {
  "use strict";

  var EXTENSIONS = [".csv.gz", ".csv", ".xlsx"];

  function sizeText(bytes) {
    var units = [["GB", 1073741824], ["MB", 1048576], ["KB", 1024]];
    for (var i = 0; i < units.length; i++) {
      if (bytes >= units[i][1]) {
        var value = bytes / units[i][1];
        return (value === Math.floor(value) ? value.toFixed(0) : value.toFixed(1)) + units[i][0];
      }
    }
    return bytes + "字节";
  }

  function problemOf(file, maxBytes) {
    var name = file.name.toLowerCase();
    var known = EXTENSIONS.some(function (extension) { return name.endsWith(extension); });
    if (!known) {
      return "文件格式不正确：请上传 CSV、CSV.GZ 或 XLSX 文件。";
    }
    if (maxBytes && file.size > maxBytes) {
      return "文件过大：单个文件不能超过 " + sizeText(maxBytes) + "。";
    }
    return "";
  }

  function init() {
    var form = document.getElementById("reference-upload-form");
    if (!form) {
      return;
    }
    var input = form.querySelector("input[type=file]");
    var chosen = document.getElementById("file-chosen");
    var submit = document.getElementById("reference-upload-submit");
    var busy = document.getElementById("upload-busy");
    var maxBytes = parseInt(input.dataset.maxBytes, 10);

    input.addEventListener("change", function () {
      var file = input.files[0];
      chosen.classList.remove("invalid");
      if (!file) {
        chosen.textContent = "";
        return;
      }
      var problem = problemOf(file, maxBytes);
      chosen.textContent = "已选择：" + file.name + "（" + sizeText(file.size) + "）" + (problem ? " " + problem : "");
      chosen.classList.toggle("invalid", Boolean(problem));
    });

    form.addEventListener("submit", function () {
      // The page stays until the whole file has arrived: one click is enough.
      submit.disabled = true;
      busy.classList.add("shown");
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
