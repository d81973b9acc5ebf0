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
