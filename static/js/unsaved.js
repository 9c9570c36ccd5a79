// Unsaved changes: a form marked data-unsaved-guard becomes dirty on its first edit (or is dirty from the
// server, data-dirty, when a save was refused and the page shows the typed values); leaving the page while
// any form is dirty asks first (the browser's own "Leave site?" dialog). Submitting a form clears its mark.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-unsaved-guard]");
  function markDirty(event) { event.currentTarget.setAttribute("data-dirty", ""); }
  forms.forEach(function (form) {
    form.addEventListener("input", markDirty);
    form.addEventListener("change", markDirty);
    form.addEventListener("submit", function () { form.removeAttribute("data-dirty"); });
  });
  window.addEventListener("beforeunload", function (event) {
    if (!document.querySelector("form[data-unsaved-guard][data-dirty]")) return;
    event.preventDefault();
    event.returnValue = "";  // Chrome before 119 needs returnValue set
    return "";
  });
})();
