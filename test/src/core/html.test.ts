import { describe, expect, it } from 'vitest';
import { escapeHtml } from '../../../src/core/html.js';

describe('escapeHtml', () => {
  it('turns the four characters that end text or a quoted attribute into entities, & first', () => {
    expect(escapeHtml('<a href="x">Tom & "Jerry"</a>')).toBe('&lt;a href=&quot;x&quot;&gt;Tom &amp; &quot;Jerry&quot;&lt;/a&gt;');
    // An entity already in the text is escaped again, not passed through.
    expect(escapeHtml('&lt;')).toBe('&amp;lt;');
    expect(escapeHtml("plain 'single' text")).toBe("plain 'single' text");
  });
});
