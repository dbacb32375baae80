// WebShop's text observation of the current page: visible text chunks joined by " [SEP] ",
// clickable elements written as "[button] label [button_]" (a selected option as
// "[clicked button] label [clicked button_]"). Inputs other than buttons are left out,
// as in WebShop, where searching is the `search[...]` action.
() => {
  const parts = [];
  const visible = (el) => {
    const style = window.getComputedStyle(el);
    return style.display !== "none" && style.visibility !== "hidden";
  };
  const label = (el) => (el.innerText || el.value || "").replace(/\s+/g, " ").trim();
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) {
      const text = node.textContent.replace(/\s+/g, " ").trim();
      if (text) parts.push(text);
      return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE || !visible(node)) return;
    const tag = node.tagName.toLowerCase();
    if (tag === "script" || tag === "style" || tag === "head" || tag === "title") return;
    const clickable = tag === "a" || tag === "button" ||
      (tag === "input" && (node.type === "submit" || node.type === "button"));
    if (clickable) {
      const text = label(node);
      if (text) {
        const on = node.classList.contains("selected") ? "clicked button" : "button";
        parts.push(`[${on}] ${text} [${on}_]`);
      }
      return;
    }
    if (tag === "input" || tag === "select" || tag === "textarea") return;
    for (const child of node.childNodes) walk(child);
  };
  walk(document.body);
  return parts.join(" [SEP] ");
}
