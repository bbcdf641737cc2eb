/* Forms marked data-confirm ask before they are sent ("Dismiss this action?"). Without JS they send
   at once; every such change can be undone on the same page (status select, "Switch back on"). */
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
})();
