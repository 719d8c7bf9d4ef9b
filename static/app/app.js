/* closedwon rep UI — progressive enhancement only. Every action also works as a plain
   form post or link; this file adds dialogs, drag and drop, formset rows and auto-filters. */
(function () {
  "use strict";

  function refreshChecklist() {
    var form = document.getElementById("opportunity-form");
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
      if (open) {
        // A Cancel link is a page of its own without JavaScript; in a dialog it just closes.
        event.preventDefault();
        open.close();
      }
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

  /* --- fix it now: a move whose requirements are unmet opens the missing fields --------- */
  function runTransition(card, url) {
    window.htmx.ajax("POST", url, {
      source: card,
      target: "#main",
      select: "#main",
      swap: "outerHTML",
      values: { next: window.location.pathname + window.location.search }
    });
  }
  function openFixit(fixUrl, onReady) {
    var body = document.getElementById("fixit-body");
    var dialog = document.getElementById("fixit-dialog");
    if (!body || !dialog || !window.htmx) return false;
    window.htmx.ajax("GET", fixUrl, { target: "#fixit-body", swap: "innerHTML" }).then(function () {
      if (body.querySelector("[data-fixit-ready]")) {
        body.innerHTML = "";
        if (onReady) onReady();
        return;
      }
      if (!dialog.open) dialog.showModal();
      focusFirst(body);
    });
    return true;
  }
  function focusFirst(root) {
    var first = root.querySelector(".has-error input, .has-error select, input:not([type=hidden]), select, textarea");
    if (first) first.focus();
  }
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-fixit-open]");
    if (opener && openFixit(opener.getAttribute("data-fixit-open"))) {
      event.preventDefault();
      return;
    }
    // The board's Move menu: the same dialog as a drop when something is missing.
    var move = event.target.closest("button[data-fixit-name]");
    var card = move && move.closest("[data-card]");
    if (!move || !card || !card.getAttribute("data-fixit-base")) return;
    event.preventDefault();
    var name = move.getAttribute("data-fixit-name");
    var details = move.closest("details");
    if (details) details.open = false;
    var next = encodeURIComponent(window.location.pathname + window.location.search);
    openFixit(card.getAttribute("data-fixit-base") + name + "/?next=" + next, function () {
      runTransition(card, card.getAttribute("data-transition-base") + name + "/");
    });
  });
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "fixit-body" && event.detail.requestConfig && event.detail.requestConfig.verb === "post") {
      // The form came back with its errors: lead to the first one.
      var first = target.querySelector(".error-summary a[data-focus-field]");
      if (first) focusField(first.getAttribute("data-focus-field"));
    }
    if (target) initAmounts(target);
  });

  /* --- errors lead to their fields ----------------------------------------------------- */
  function focusField(id) {
    var field = id && document.getElementById(id);
    if (!field) return false;
    var details = field.closest("details");
    if (details) details.open = true;
    field.scrollIntoView({ block: "center" });
    field.focus({ preventScroll: true });
    return true;
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-focus-field]");
    if (!link) return;
    var href = link.getAttribute("href") || "";
    // Only links to this page: a link to the edit page navigates and focuses there.
    if (href.charAt(0) !== "#") return;
    if (focusField(link.getAttribute("data-focus-field"))) event.preventDefault();
  });
  if (window.location.hash.length > 1) {
    var wanted = decodeURIComponent(window.location.hash.slice(1));
    if (/^id_/.test(wanted)) focusField(wanted);
  }

  /* --- Today buttons ------------------------------------------------------------------- */
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-today-for]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-today-for"));
    if (!input) return;
    input.value = input.getAttribute("data-today") || new Date().toISOString().slice(0, 10);
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
    input.focus();
  });

  /* --- amount from the line items ------------------------------------------------------ */
  function parseNumber(value) {
    if (value === null || value === undefined || String(value).trim() === "") return null;
    var number = Number(String(value).replace(/,/g, ""));
    return isFinite(number) ? number : null;
  }
  function currencyOf(form) {
    var input = form.querySelector("input[name=currency]");
    var code = (input && input.value) || form.getAttribute("data-currency") || document.documentElement.getAttribute("data-currency") || "USD";
    return code.toUpperCase();
  }
  function formatMoney(amount, currency) {
    try {
      return new Intl.NumberFormat("en-US", { style: "currency", currency: currency, minimumFractionDigits: amount % 1 ? 2 : 0, maximumFractionDigits: 2 }).format(amount);
    } catch (e) {
      return amount.toFixed(2) + " " + currency;
    }
  }
  function linesOf(form) {
    var sum = 0, any = false;
    form.querySelectorAll("tr.line-row").forEach(function (row) {
      var seats = parseNumber((row.querySelector("input[name$=-seats]") || {}).value);
      var price = parseNumber((row.querySelector("input[name$=-unit_price]") || {}).value);
      var removed = row.querySelector("input[name$=-DELETE]");
      var out = row.querySelector("[data-line-total]");
      var total = seats !== null && price !== null ? Math.round(seats * price * 100) / 100 : null;
      if (out) out.textContent = total === null ? "—" : formatMoney(total, currencyOf(form));
      if (total !== null && !(removed && removed.checked)) { sum += total; any = true; }
    });
    return { sum: Math.round(sum * 100) / 100, any: any };
  }
  function updateAmount(form) {
    var lines = linesOf(form);
    var sumCell = form.querySelector("[data-lines-sum]");
    if (sumCell) sumCell.textContent = formatMoney(lines.sum, currencyOf(form));
    var amount = form.querySelector("input[name=amount]");
    var note = form.querySelector("[data-amount-note]");
    if (!amount) return;
    if (amount.dataset.auto === "1" && lines.any) amount.value = lines.sum.toFixed(2);
    var typed = parseNumber(amount.value);
    var mismatch = lines.any && typed !== null && Math.abs(typed - lines.sum) >= 0.005;
    if (note) {
      note.hidden = !(mismatch || (amount.dataset.auto === "1" && lines.any));
      if (mismatch) {
        note.className = "amount-note mismatch";
        note.innerHTML = "";
        note.appendChild(document.createTextNode("Differs from the line items (" + formatMoney(lines.sum, currencyOf(form)) + "). "));
        var use = document.createElement("button");
        use.type = "button"; use.className = "linklike inline-link"; use.setAttribute("data-use-sum", "");
        use.textContent = "Use the sum";
        note.appendChild(use);
      } else {
        note.className = "amount-note";
        note.textContent = "Filled in from the line items.";
      }
    }
  }
  function initAmounts(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("form").forEach(function (form) {
      var amount = form.querySelector("input[name=amount]");
      if (!form.querySelector("[data-line-total]")) return;
      if (amount && amount.dataset.auto === undefined) {
        var lines = linesOf(form);
        var typed = parseNumber(amount.value);
        amount.dataset.auto = typed === null || (lines.any && Math.abs(typed - lines.sum) < 0.005) ? "1" : "0";
      }
      updateAmount(form);
    });
  }
  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest("form");
    if (!form || !form.querySelector("[data-line-total]")) return;
    if (event.target.name === "amount") {
      // The rep typed an amount: it is theirs now (cleared: computed again).
      event.target.dataset.auto = event.target.value.trim() === "" ? "1" : "0";
    }
    updateAmount(form);
  });
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form");
    if (form && event.target.name && /-DELETE$/.test(event.target.name)) updateAmount(form);
  });
  document.addEventListener("click", function (event) {
    var use = event.target.closest("[data-use-sum]");
    if (!use) return;
    var form = use.closest("form");
    var amount = form && form.querySelector("input[name=amount]");
    if (!amount) return;
    amount.dataset.auto = "1";
    updateAmount(form);
    amount.dispatchEvent(new Event("change", { bubbles: true }));
    amount.focus();
  });
  initAmounts(document);

  /* --- saving the deal form: never abort a live checklist request ---------------------- */
  var checklistInFlight = 0;
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var form = document.getElementById("opportunity-form");
    if (form && form.dataset.saving === "1" && event.detail.elt && event.detail.elt.id === "checklist-live") {
      event.preventDefault();  // the page is being left: no new checklist request
      return;
    }
    if (event.detail.elt && event.detail.elt.id === "checklist-live") checklistInFlight += 1;
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt && event.detail.elt.id === "checklist-live") {
      checklistInFlight = Math.max(0, checklistInFlight - 1);
      var form = document.getElementById("opportunity-form");
      if (form && form.dataset.saving === "1" && checklistInFlight === 0 && form._pendingSubmitter !== undefined) {
        var submitter = form._pendingSubmitter;
        form._pendingSubmitter = undefined;
        form.dataset.released = "1";
        if (submitter) form.requestSubmit(submitter); else form.requestSubmit();
      }
    }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "opportunity-form") return;
    form.dataset.saving = "1";
    if (form.dataset.released === "1" || checklistInFlight === 0) return;
    // A checklist request is still on its way: wait for it rather than abort it.
    event.preventDefault();
    form._pendingSubmitter = event.submitter || null;
  }, true);

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
    var name = column.getAttribute("data-drop-transition");
    var url = card.getAttribute("data-transition-base") + name + "/";
    column.classList.remove("drop-target");
    // Requirements unmet: the dialog with exactly the missing fields; otherwise the move
    // runs at once (same endpoint as the Move buttons, the board swapped in with its message).
    var next = encodeURIComponent(window.location.pathname + window.location.search);
    var fixBase = card.getAttribute("data-fixit-base");
    if (!fixBase || !openFixit(fixBase + name + "/?next=" + next, function () { runTransition(card, url); })) {
      runTransition(card, url);
    }
  });
})();
