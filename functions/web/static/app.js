// Hawkins web app: small enhancements over server-rendered pages. Every page works without
// this file except uploading, which needs the browser to send files to S3 itself.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  // Chat: say the character is thinking while the reply is on its way.
  const chat = document.getElementById("chat-form");
  if (chat) {
    chat.addEventListener("submit", () => {
      const thinking = chat.querySelector(".thinking");
      if (thinking) thinking.hidden = false;
      for (const b of chat.querySelectorAll("button")) b.disabled = true;
    });
  }

  // Upload: each file goes to S3 with a presigned PUT, then is followed until ingest has
  // processed or quarantined it.
  const input = document.getElementById("files");
  const drop = document.getElementById("drop");
  const progress = document.getElementById("progress");
  if (!input || !drop || !progress) return;

  function line(name) {
    const li = document.createElement("li");
    const label = document.createElement("code");
    label.textContent = name;
    const state = document.createElement("span");
    state.className = "state";
    li.append(label, " ", state);
    progress.append(li);
    return (text, kind) => {
      state.textContent = text;
      state.className = "state tag " + (kind || "busy");
    };
  }

  function describe(upload) {
    switch (upload.state) {
      case "processed":
        return ["processed: " + upload.records + " records" +
          (upload.warnings ? ", " + upload.warnings + " warnings" : ""), "ok"];
      case "quarantined":
        return ["quarantined (" + upload.code + (upload.line ? ", line " + upload.line : "") +
          "): " + upload.message + (upload.action ? " " + upload.action : ""), "bad"];
      case "not_a_source":
        return ["not taken: " + upload.reason, "bad"];
      case "missing":
        return ["not in the bucket", "bad"];
      default:
        return null;
    }
  }

  async function follow(key, show) {
    for (let i = 0; i < 150; i++) {
      await new Promise((r) => setTimeout(r, 2000));
      const res = await fetch("/api/uploads/status?key=" + encodeURIComponent(key));
      if (!res.ok) continue;
      const done = describe(await res.json());
      if (done) return show(done[0], done[1]);
    }
    show("still processing: see the Overview page later", "busy");
  }

  async function send(file) {
    const show = line(file.name);
    show("asking where to put it");
    const res = await fetch("/api/uploads", {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify({ name: file.name, content_type: file.type || "application/octet-stream" }),
    });
    if (!res.ok) return show(await res.text(), "bad");
    const target = await res.json();
    show("uploading");
    const put = await fetch(target.url, { method: "PUT", headers: target.headers, body: file });
    if (!put.ok) return show("the upload failed (" + put.status + ")", "bad");
    show("uploaded; processing");
    await follow(target.key, show);
  }

  function take(files) {
    for (const f of files) send(f).catch((e) => line(f.name)(String(e), "bad"));
  }

  input.addEventListener("change", () => take(input.files));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    take(e.dataTransfer.files);
  });
})();
