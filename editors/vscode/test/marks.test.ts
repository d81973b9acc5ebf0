import { describe, expect, it } from 'vitest';
import { afterUserChange, changedLines, merge } from '../src/model/marks';

const edit = (sl: number, sc: number, el: number, ec: number, newText: string) => ({ range: { start: { line: sl, character: sc }, end: { line: el, character: ec } }, newText });

describe('agent edit marks', () => {
  it('the lines an edit\'s new text occupies', () => {
    expect(changedLines([edit(1, 13, 1, 14, '+')])).toEqual([{ start: 1, end: 1 }]);
    expect(changedLines([edit(2, 0, 2, 0, 'a\nb\n')])).toEqual([{ start: 2, end: 3 }]);
    expect(changedLines([edit(0, 0, 0, 0, 'x\n'), edit(5, 0, 6, 0, '')])).toEqual([{ start: 0, end: 0 }, { start: 6, end: 6 }]); // below the inserted line
    expect(merge([{ start: 3, end: 4 }, { start: 1, end: 2 }, { start: 8, end: 9 }])).toEqual([{ start: 1, end: 4 }, { start: 8, end: 9 }]);
  });

  it('a user edit on a marked line removes its mark; marks below move with inserted lines', () => {
    const marks = [{ start: 2, end: 3 }, { start: 10, end: 10 }];
    expect(afterUserChange(marks, 3, 3, 0)).toEqual([{ start: 10, end: 10 }]);
    expect(afterUserChange(marks, 5, 5, 2)).toEqual([{ start: 2, end: 3 }, { start: 12, end: 12 }]);
    expect(afterUserChange(marks, 0, 1, 0)).toEqual([{ start: 1, end: 2 }, { start: 9, end: 9 }]);
  });
});
