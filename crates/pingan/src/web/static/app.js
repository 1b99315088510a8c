// pingan: small progressive enhancements; every page works without this file.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// Import forms: choosing a CSV file fills the form's text area, so the page needs no upload
// endpoint of its own and the text can be checked before it is sent.
document.addEventListener("change", function (event) {
  var input = event.target;
  if (!input.matches || !input.matches("input[type=file][data-fill]")) {
    return;
  }
  var target = document.getElementById(input.getAttribute("data-fill"));
  var file = input.files && input.files[0];
  if (!target || !file) {
    return;
  }
  var reader = new FileReader();
  reader.onload = function () {
    target.value = String(reader.result).replace(/^\uFEFF/, "");
  };
  reader.readAsText(file, "utf-8");
});

// Uploads (the resident import): send the file to the API and show how far the server has got
// reading, checking and writing it. Without this script the form posts the file to the page.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.matches || !form.matches("form[data-upload]")) {
    return;
  }
  var input = form.querySelector("input[type=file]");
  var file = input && input.files && input.files[0];
  if (!file || !window.XMLHttpRequest || !window.crypto || !window.crypto.getRandomValues) {
    return;
  }
  event.preventDefault();
  var data = form.dataset;
  var bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  var token = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  var skip = form.querySelector("input[name=skip_invalid]");
  var bar = document.getElementById("import-progress");
  var status = document.getElementById("import-status");
  var result = document.getElementById("import-result");
  var say = function (text) { if (status) { status.textContent = text; } };
  var show = function (percent) { if (bar) { bar.hidden = false; bar.value = percent; } };
  result.textContent = "";
  var button = form.querySelector("button[type=submit]");
  if (button) { button.disabled = true; }
  var xhr = new XMLHttpRequest();
  xhr.open("POST", data.upload + "?progress=" + token + (skip && skip.checked ? "&skip_invalid=true" : ""));
  xhr.setRequestHeader("Content-Type", /\.xlsx$/i.test(file.name)
    ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" : "text/csv");
  xhr.upload.onprogress = function (e) {
    if (e.lengthComputable) { show((e.loaded / e.total) * 20); say(data.labelUploading || ""); }
  };
  var timer = window.setInterval(function () {
    fetch(data.progress + token, { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (p) {
      if (!p || !p.total) { return; }
      var share = Math.min(1, p.done / p.total);
      if (p.phase === "index") {
        // Every row is written; the indexes are built before the commit.
        show(99);
        say(data.labelIndexing || "");
        return;
      }
      show(p.phase === "write" ? 60 + share * 40 : 20 + share * 40);
      say((p.phase === "write" ? data.labelWriting : data.labelChecking) + " " + p.done + " / " + p.total);
    }).catch(function () {});
  }, 500);
  xhr.onloadend = function () {
    window.clearInterval(timer);
    if (button) { button.disabled = false; }
    var report = null;
    try { report = JSON.parse(xhr.responseText); } catch (e) { report = null; }
    if (!report || typeof report.rows !== "number") {
      say((data.labelFailed || "") + " (HTTP " + xhr.status + ")");
      return;
    }
    show(100);
    say((report.written ? data.labelWritten : data.labelNotWritten) + " " + (data.labelSummary || "")
      .replace("{rows}", report.rows).replace("{created}", report.created)
      .replace("{merged}", report.merged).replace("{skipped}", report.skipped));
    if (report.errors.length) {
      var list = document.createElement("ul");
      list.className = "error";
      report.errors.slice(0, 500).forEach(function (e) {
        var item = document.createElement("li");
        item.textContent = "#" + e.line + " " + e.field + ": " + e.reason;
        list.appendChild(item);
      });
      result.appendChild(list);
    }
  };
  say(data.labelUploading || "");
  xhr.send(file);
});
