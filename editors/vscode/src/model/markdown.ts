// The chat view's Markdown renderer (pure; runs in the webview): markdown-it with raw HTML
// disabled (the model's text can never inject markup or script), links limited to http(s),
// file and in-page anchors, code blocks highlighted by highlight.js (classes only; the page's
// CSS maps them to the theme's colours).
import hljs from 'highlight.js/lib/common';
import MarkdownIt from 'markdown-it';

export function createMarkdown(): MarkdownIt {
  const md: MarkdownIt = new MarkdownIt({
    html: false,
    linkify: true,
    breaks: false,
    highlight: (code: string, lang: string): string => {
      try {
        if (lang && hljs.getLanguage(lang)) return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
      } catch {
        // unknown or broken: markdown-it escapes it as plain text
      }
      return '';
    },
  });
  md.validateLink = (url: string) => /^(https?:|file:|#)/i.test(url.trim());
  return md;
}

/**
 * Where streamed Markdown is settled: the length of the prefix made of whole blocks (ending
 * at a blank line outside a fenced code block) that more text cannot change. The page renders
 * that prefix once and re-renders only the rest as the text grows, so a frame's work does
 * not grow with the answer.
 */
export function settledLength(text: string): number {
  let settled = 0;
  let inFence = false;
  let fence = '';
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\n', at);
    if (end < 0) break; // the last line is still being written
    const line = text.slice(at, end);
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (marker) {
      if (!inFence) {
        inFence = true;
        fence = marker[1];
      } else if (marker[1][0] === fence[0] && marker[1].length >= fence.length && line.trim() === marker[1]) {
        inFence = false;
      }
    } else if (!inFence && line.trim() === '' && at > 0) {
      settled = end + 1;
    }
    at = end + 1;
  }
  return settled;
}
