/**
 * Linking rules (pure) and contact extraction (pure).
 */
import type { LinkingRule } from '../../../../shared/domain/records';
import { applyLinkingRules, extractContacts, parentMessageIds } from '../../../../shared/domain/sync';

describe('applyLinkingRules', () => {
  const rules: LinkingRule[] = [
    { kind: 'threadInheritance' },
    { kind: 'subjectPattern', pattern: '\\[#(TICKET-\\d+)\\]', referenceDoctype: 'HD Ticket' },
    { kind: 'subjectPattern', pattern: 'PO-\\d{4}', referenceDoctype: 'Purchase Order' },
    { kind: 'senderDomain', domain: '@Fabrikam.example', referenceDoctype: 'Customer', referenceName: 'Fabrikam' },
  ];
  const thread = {
    byConversationId: new Map([['conv-1', { referenceDoctype: 'Lead', referenceName: 'LEAD-1' }]]),
    byMessageId: new Map([['<parent@x>', { referenceDoctype: 'Opportunity', referenceName: 'OPP-9' }]]),
  };

  it('takes the first matching rule in order', () => {
    expect(applyLinkingRules(rules, { subject: 're: [#ticket-77] help', sender: 'a@b.example' })).toMatchObject({
      referenceDoctype: 'HD Ticket',
      referenceName: 'ticket-77',
      ruleIndex: 1,
      ruleKind: 'subjectPattern',
    });
    expect(applyLinkingRules(rules, { subject: 'About PO-1234', sender: 'a@b.example' })).toMatchObject({
      referenceDoctype: 'Purchase Order',
      referenceName: 'PO-1234',
    });
    expect(applyLinkingRules(rules, { subject: 'hi', sender: 'x@sales.fabrikam.example' })).toMatchObject({
      referenceName: 'Fabrikam',
    });
    expect(applyLinkingRules(rules, { subject: 'hi', sender: 'x@notfabrikam.example' })).toBeUndefined();
  });

  it('inherits by In-Reply-To / References first, then by conversation', () => {
    expect(
      applyLinkingRules(
        rules,
        { subject: '[#TICKET-1]', sender: 'a@b', inReplyTo: '<parent@x>', conversationId: 'conv-1' },
        thread,
      ),
    ).toMatchObject({ referenceName: 'OPP-9', ruleKind: 'threadInheritance' });
    expect(
      applyLinkingRules(rules, { subject: '', sender: 'a@b', references: '<root@x> <parent@x>' }, thread),
    ).toMatchObject({ referenceName: 'OPP-9' });
    expect(applyLinkingRules(rules, { subject: '', sender: 'a@b', conversationId: 'conv-1' }, thread)).toMatchObject({
      referenceName: 'LEAD-1',
    });
  });

  it('ignores a rule whose pattern is not a valid regular expression', () => {
    const bad: LinkingRule[] = [{ kind: 'subjectPattern', pattern: '([unclosed', referenceDoctype: 'X' }];
    expect(applyLinkingRules(bad, { subject: '([unclosed', sender: 'a@b' })).toBeUndefined();
  });

  it('lists parent message ids newest first', () => {
    expect(parentMessageIds({ inReplyTo: '<c@x>', references: '<a@x> <b@x>\r\n <c@x>' })).toEqual([
      '<c@x>',
      '<b@x>',
      '<a@x>',
    ]);
  });
});

describe('extractContacts', () => {
  it('collects every external address once (case-insensitive), with a name when one is known', () => {
    const contacts = extractContacts(
      [
        {
          id: '1',
          from: { emailAddress: { name: 'Ann@Partner.example', address: 'Ann@Partner.example' } },
          toRecipients: [
            { emailAddress: { name: 'Me', address: 'Sales@Contoso.example' } },
            { emailAddress: { name: 'Bo', address: 'bo@x.example' } },
          ],
          ccRecipients: [{ emailAddress: { name: 'Ann  Lee', address: 'ann@partner.example' } }],
          bccRecipients: [
            { emailAddress: { address: 'not-an-address' } },
            { emailAddress: { address: 'alias@contoso.example' } },
          ],
          replyTo: [{ emailAddress: { address: 'reply@x.example' } }],
        },
      ],
      'sales@contoso.example',
      ['alias@contoso.example'],
    );
    expect(contacts).toEqual([
      { email: 'ann@partner.example', fullName: 'Ann Lee' },
      { email: 'bo@x.example', fullName: 'Bo' },
      { email: 'reply@x.example' },
    ]);
  });
});
