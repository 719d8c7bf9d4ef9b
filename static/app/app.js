/* closedwon rep UI — progressive enhancement only. Every action also works as a plain
   form post or link; this file adds dialogs, drag and drop, formset rows and auto-filters. */
(function () {
  "use strict";

  function refreshChecklist() {
    var form = document.getElementById("deal-form");
    if (form && window.htmx) window.htmx.trigger(form, "change");
  }

  /* --- dialogs: links with data-dialog-open open a <dialog>; without JS they are pages -- */
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        if (dialog.id === "contact-dialog") {
          var account = document.getElementById("id_account");
          var target = dialog.querySelector("select[name$=account]");
          if (account && target) target.value = account.value;
        }
        dialog.showModal();
        var first = dialog.querySelector("input:not([type=hidden]), select, textarea");
        if (first) first.focus();
      }
      return;
    }
    var closer = event.target.closest("[data-dialog-close]");
    if (closer) {
      var open = closer.closest("dialog");
      if (open) open.close();
    }
  });

  function closeDialog(id) {
    var dialog = document.getElementById(id);
    if (!dialog) return;
    var form = dialog.querySelector("form");
    if (form) form.reset();
    dialog.close();
  }

  document.body.addEventListener("closedwon:account-created", function () {
    closeDialog("account-dialog");
    // The new account select came back selected: refresh its contacts and the checklist.
    var select = document.getElementById("id_account");
    if (select) select.dispatchEvent(new Event("change", { bubbles: true }));
    if (select) select.focus();
  });
  document.body.addEventListener("closedwon:contact-created", function () {
    closeDialog("contact-dialog");
    var select = document.getElementById("id_primary_contact");
    if (select) select.focus();
  });
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && (target.id === "contact-field" || target.id === "account-field")) refreshChecklist();
  });

  /* --- line item formset: "Add a product" adds a row in place ------------------------- */
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-line]");
    if (!button) return;
    var template = document.getElementById("line-empty");
    var rows = document.getElementById("line-rows");
    var total = document.querySelector("input[name=lines-TOTAL_FORMS]");
    if (!template || !rows || !total) return;
    event.preventDefault();
    var index = parseInt(total.value, 10) || 0;
    var holder = document.createElement("tbody");
    holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
    var row = holder.querySelector("tr");
    rows.appendChild(row);
    total.value = String(index + 1);
    var select = row.querySelector("select");
    if (select) select.focus();
    refreshChecklist();
  });

  /* --- filters: apply as soon as a choice changes -------------------------------------- */
  document.addEventListener("change", function (event) {
    var form = event.target.closest("form[data-autosubmit]");
    if (!form) return;
    if (event.target.name === "owner" && event.target.value) {
      var everyone = form.querySelector("input[name=scope][value=all]");
      if (everyone) everyone.checked = true;
    }
    if (event.target.name === "scope") {
      var owner = form.querySelector("select[name=owner]");
      if (owner) owner.value = "";
    }
    if (event.target.type !== "search") form.requestSubmit();
  });

  /* --- stage path: on a narrow screen, scroll the current stage into view ------------- */
  var current = document.querySelector(".path [aria-current=step]");
  if (current && current.parentElement.scrollWidth > current.parentElement.clientWidth) {
    var list = current.parentElement;
    list.scrollLeft = current.offsetLeft - list.offsetLeft - (list.clientWidth - current.clientWidth) / 2;
  }

  /* --- board: drag a card to another column ------------------------------------------- */
  var dragged = null;
  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest("[data-card][draggable=true]");
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-pk"));
    card.classList.add("dragging");
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".drop-target").forEach(function (el) { el.classList.remove("drop-target"); });
  });
  function columnFor(event) {
    var column = event.target.closest && event.target.closest("[data-column]");
    if (!column || !dragged) return null;
    if (column.getAttribute("data-stage") === dragged.getAttribute("data-stage")) return null;
    return column;
  }
  document.addEventListener("dragover", function (event) {
    var column = columnFor(event);
    if (!column) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".drop-target").forEach(function (el) {
      if (el !== column) el.classList.remove("drop-target");
    });
    column.classList.add("drop-target");
  });
  document.addEventListener("drop", function (event) {
    var column = columnFor(event);
    if (!column) return;
    event.preventDefault();
    var card = dragged;
    var url = card.getAttribute("data-transition-base") + column.getAttribute("data-drop-transition") + "/";
    column.classList.remove("drop-target");
    card.classList.add("dragging");
    // Same endpoint as the Move buttons; the redirect back to the board is swapped in,
    // with the success or refusal message at its top.
    window.htmx.ajax("POST", url, {
      source: card,
      target: "#main",
      select: "#main",
      swap: "outerHTML",
      values: { next: window.location.pathname + window.location.search }
    });
  });
})();
