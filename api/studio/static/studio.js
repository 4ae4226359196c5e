// The studio works without this script; it only adds two conveniences.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Copy a shared link (the link carries only the facts entered).
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", () => {
      const field = document.getElementById(button.dataset.copy);
      field.select();
      if (navigator.clipboard) { navigator.clipboard.writeText(field.value); }
      button.textContent = "Copied";
    });
  }
  // A chosen draft file is shown in the text area, so it can be read and edited before checking.
  const file = document.getElementById("file");
  const draft = document.getElementById("draft");
  if (file && draft) {
    file.addEventListener("change", () => {
      if (!file.files.length) { return; }
      file.files[0].text().then((text) => { draft.value = text; file.value = ""; });
    });
  }
});
