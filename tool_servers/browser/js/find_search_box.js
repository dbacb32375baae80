// The bid of the page's search box: an input of type search, or a text input named
// search/q/query/keywords; null when the page has none. Used by WebShop's `search[...]`.
() => {
  const el = document.querySelector(
    "input[type=search], input[name=search], input[name=q], input[name=query], input[name=keywords]");
  return el ? el.getAttribute("bid") : null;
}
