// Which lines of a file the agent changed (pure): from the text edits an applied workspace edit
// made, kept in step with later changes, and dropped where the user edits them.

/** Lines `start`..`end` (inclusive, 0-based). */
export interface LineRange {
  start: number;
  end: number;
}

interface Pos {
  line: number;
  character: number;
}

/** The lines the edits' new text occupies afterwards (edits: non-overlapping, original positions). */
export function changedLines(edits: readonly { range: { start: Pos; end: Pos }; newText: string }[]): LineRange[] {
  const sorted = [...edits].sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
  const out: LineRange[] = [];
  let delta = 0; // lines added so far by earlier edits
  for (const e of sorted) {
    const newLines = e.newText.split('\n').length - 1;
    const oldLines = e.range.end.line - e.range.start.line;
    const start = e.range.start.line + delta;
    // an edit that only removes or ends with the line break marks the line it lands on
    const trailing = e.newText.endsWith('\n') && newLines > 0 ? 1 : 0;
    out.push({ start, end: Math.max(start, start + newLines - trailing) });
    delta += newLines - oldLines;
  }
  return merge(out);
}

export function merge(ranges: readonly LineRange[]): LineRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: LineRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

/**
 * After a user's change replacing lines `startLine`..`endLine` with text of `newLineCount`
 * line breaks: marks it touches go, marks below it move.
 */
export function afterUserChange(ranges: readonly LineRange[], startLine: number, endLine: number, newLineCount: number): LineRange[] {
  const shift = newLineCount - (endLine - startLine);
  const out: LineRange[] = [];
  for (const r of ranges) {
    if (r.end < startLine) out.push(r);
    else if (r.start > endLine) out.push({ start: r.start + shift, end: r.end + shift });
    // else: the user edited a marked line: its mark goes
  }
  return out;
}
