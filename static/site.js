// Small enhancements of server-rendered pages; every page works without them.
"use strict";

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  // Plain-HTTP pages have no Clipboard API: copy through a selected, off-screen text area.
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "visually-hidden";
  document.body.append(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
}

function setUpCopyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const label = button.textContent;
    button.addEventListener("click", () => {
      const source = document.getElementById(button.dataset.copy);
      copyText(source.textContent).then(
        () => { button.textContent = button.dataset.copied; button.classList.add("done"); },
        () => { button.textContent = button.dataset.failed; window.getSelection().selectAllChildren(source); },
      ).finally(() => setTimeout(() => { button.textContent = label; button.classList.remove("done"); }, 2000));
    });
  }
}

function setUpConfirmations() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

function setUpTabs() {
  for (const bar of document.querySelectorAll(".tabs")) {
    const tabs = [...bar.querySelectorAll("[data-tab]")];
    const show = (chosen) => {
      for (const tab of tabs) {
        const selected = tab === chosen;
        tab.setAttribute("aria-selected", String(selected));
        document.getElementById(tab.getAttribute("aria-controls")).hidden = !selected;
      }
    };
    tabs.forEach((tab) => tab.addEventListener("click", () => show(tab)));
    bar.hidden = false;
    show(tabs[0]);
  }
}

// Times come as UTC from the server; show them in the reader's own time zone.
function localizeTimes() {
  const format = new Intl.DateTimeFormat(document.documentElement.lang, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
  });
  for (const time of document.querySelectorAll("time[datetime]")) {
    time.title = time.textContent;
    time.textContent = format.format(new Date(time.dateTime));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setUpCopyButtons();
  setUpConfirmations();
  setUpTabs();
  localizeTimes();
});
