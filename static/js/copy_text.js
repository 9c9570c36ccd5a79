// Copy buttons: <button data-copy="#id"> copies that element's text (statements for a DBA).
(function () {
  "use strict";
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const note = button.parentElement.querySelector("[data-copied]");
    try {
      await navigator.clipboard.writeText(source.textContent);
      if (note) note.textContent = "Copied.";
    } catch (error) {
      const range = document.createRange();  // no clipboard (plain http): select the text for Ctrl+C
      source.hidden = false;
      range.selectNodeContents(source);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      if (note) note.textContent = "Selected: press Ctrl+C to copy.";
    }
  });
})();
