() => {
  // The chat app's script: app.py passes it to Gradio's launch(js=...), which runs it once on page load.
  // Copy buttons in replies (rag/render.py): the chat sanitises reply HTML, so clicks are handled here.
  document.addEventListener("click", (event) => {
    const button = event.target.closest ? event.target.closest(".rag-copy") : null;
    if (!button) return;
    const text = button.getAttribute("data-copy") || "";
    const done = () => {
      button.textContent = "已复制 Copied";
      setTimeout(() => { button.textContent = "复制 Copy"; }, 1500);
    };
    const fallback = () => {  // no Clipboard API outside a secure context (http on another host)
      const area = document.createElement("textarea");
      area.value = text;
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } finally { area.remove(); }
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
  });
  // After each answer (app.py's SHOW_ANSWER_JS): scroll the chat so the new question is at its top and the answer
  // under it in view; a long reply would leave the chat at its last citation, the answer out of sight.
  window.ragShowAnswer = () => setTimeout(() => {
    const questions = document.querySelectorAll("#rag-chat .rag-question");
    const question = questions[questions.length - 1];
    let box = question && question.parentElement;
    while (box && !(box.scrollHeight > box.clientHeight + 4 && /auto|scroll/.test(getComputedStyle(box).overflowY))) {
      box = box.parentElement;
    }
    if (box) box.scrollTop += question.getBoundingClientRect().top - box.getBoundingClientRect().top - 24;
  }, 150);
}
