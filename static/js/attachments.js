// The attachment component (templates/includes/attachments.html): 【选择上传】 sends the chosen files at
// once to the draft upload URL and shows the grid it answers; 【X】 (htmx, with a confirmation) removes
// one. After either, the count and small thumbnails outside the modal follow. No inline scripts (CSP).
(function () {
  "use strict";

  function csrfToken(field) {
    var form = field.closest("form");
    var input = (form && form.querySelector("input[name=csrfmiddlewaretoken]")) ||
      document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) {
      return input.value;
    }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function refreshSummary(field) {
    var source = field.querySelector(".attachment-grid template.attachment-summary-source");
    var summary = field.querySelector(".attachment-summary");
    if (source && summary) {
      summary.replaceChildren(source.content.cloneNode(true));
    }
  }

  function showClientErrors(field, messages) {
    var box = field.querySelector(".attachment-client-errors");
    box.replaceChildren();
    messages.forEach(function (message) {
      var alert = document.createElement("div");
      alert.className = "alert alert-danger py-1 px-2 mb-2 small";
      alert.setAttribute("role", "alert");
      alert.textContent = message;
      box.appendChild(alert);
    });
  }

  function upload(field, files) {
    var maxBytes = parseInt(field.dataset.maxBytes, 10);
    var errors = [];
    var data = new FormData();
    var count = 0;
    files.forEach(function (file) {
      // Refused here too, so a clerk does not wait for 30 MB to travel only to be told so.
      if (maxBytes && file.size > maxBytes) {
        errors.push(file.name + "：" + field.dataset.messageTooLarge);
        return;
      }
      data.append("file", file);
      count += 1;
    });
    showClientErrors(field, errors);
    if (!count) {
      return;
    }
    data.append("draft_token", field.querySelector("input[name=draft_token]").value);
    var kind = field.querySelector(".attachment-kind");
    if (kind) {
      data.append("kind", kind.value);
    }
    var progress = field.querySelector(".attachment-progress");
    var chooser = field.querySelector(".attachment-choose");
    progress.hidden = false;
    chooser.disabled = true;
    fetch(field.dataset.uploadUrl, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(field), "HX-Request": "true" }
    })
      .then(function (response) {
        if (response.status === 429) {
          // SPEC SEC-3: over the hourly quota; the answer is the Chinese message saying when to retry.
          return response.text().then(function (message) {
            showClientErrors(field, [message]);
            return null;
          });
        }
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.text();
      })
      .then(function (html) {
        if (html === null) {
          return;
        }
        var grid = field.querySelector(".attachment-grid");
        grid.innerHTML = html;
        window.htmx.process(grid);
        refreshSummary(field);
      })
      .catch(function () {
        showClientErrors(field, errors.concat([field.dataset.messageFailed]));
      })
      .finally(function () {
        progress.hidden = true;
        chooser.disabled = false;
        keepFocus(chooser);
      });
  }

  // The chooser was disabled during the upload, and a removed thumbnail's 【X】 is gone: either way the
  // focus fell to the page. It comes back to 【选择上传】, where a keyboard user left off (SPEC X-5).
  function keepFocus(chooser) {
    if (!document.activeElement || document.activeElement === document.body) {
      chooser.focus();
    }
  }

  document.addEventListener("click", function (event) {
    var chooser = event.target.closest(".attachment-choose");
    if (chooser) {
      chooser.closest(".attachment-field").querySelector(".attachment-input").click();
    }
  });

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.classList || !input.classList.contains("attachment-input")) {
      return;
    }
    var files = Array.prototype.slice.call(input.files);
    // Cleared at once: the chooser is inside the page's form, which must not post the files again.
    input.value = "";
    if (files.length) {
      upload(input.closest(".attachment-field"), files);
    }
  });

  // 【X】 answered: the grid was swapped by htmx.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var grid = event.detail.target;
    if (grid && grid.classList.contains("attachment-grid")) {
      var field = grid.closest(".attachment-field");
      showClientErrors(field, []);
      refreshSummary(field);
      keepFocus(field.querySelector(".attachment-choose"));
    }
  });
})();
