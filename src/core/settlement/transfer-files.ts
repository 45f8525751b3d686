import { columns, csvTable } from '../csv.js'
import { configError } from '../errors.js'
import { toDecimalString } from '../money/format.js'
import { isoWithOffset } from '../time.js'
import { compactIban, ibanChecks, looksLikeIban } from './iban.js'
import { swiftField } from './swift-text.js'

export interface Party {
  name: string
  accountNumber: string
  bankName: string
  bankCode: string | null
  swift: string | null
}

/** One credit transfer: a settlement batch's net from the collection account to the branch's. */
export interface TransferInstruction {
  reference: string
  /** YYYY-MM-DD, the requested execution date. */
  valueDate: string
  /** ISO instant the instruction was made (the batch's creation: reruns write the same bytes). */
  createdAt: string
  /** The zone whose offset the file's creation time carries (the tenant's). */
  timeZone: string
  amountMinor: bigint
  currency: string
  debtor: Party
  creditor: Party
  narrative: string
}

const TRANSFER_COLUMNS = columns(
  ['reference', 'text'],
  ['value_date', 'text'],
  ['debtor_account', 'text'],
  ['beneficiary_name', 'text'],
  ['beneficiary_account', 'text'],
  ['bank_code', 'text'],
  ['swift', 'text'],
  ['amount', 'number'],
  ['currency', 'text'],
  ['narrative', 'text'],
)

/** The bank-portal CSV: a header and one line, plain decimals (through the one CSV writer). */
export function transferCsv(t: TransferInstruction): string {
  return csvTable(TRANSFER_COLUMNS, [
    [
      t.reference,
      t.valueDate,
      t.debtor.accountNumber,
      t.creditor.name,
      t.creditor.accountNumber,
      t.creditor.bankCode,
      t.creditor.swift,
      toDecimalString({ minor: t.amountMinor, currency: t.currency }),
      t.currency,
      t.narrative,
    ],
  ])
}

const esc = (v: string) =>
  v
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;')

/**
 * Max35Text / Max140Text: the text in the SWIFT Latin set, cut to the schema's length (after
 * transliterating, so `Café` counts 4), escaped for XML. The CSV keeps the original text.
 */
const text = (v: string, n: number) => esc(swiftField(v, n))

/** The schema's BICIdentifier: a code that fails it is sent as the bank code instead. */
const BIC = /^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$/

function agent(p: Party, indent: string): string {
  const id =
    p.swift && BIC.test(p.swift)
      ? `<BIC>${p.swift}</BIC>`
      : `<Othr><Id>${text(p.bankCode ?? 'NOTPROVIDED', 35)}</Id></Othr>`
  return `${indent}<FinInstnId>${id}</FinInstnId>`
}

/**
 * A party's account as DbtrAcct/CdtrAcct identify it: an IBAN (checked: a number that looks like
 * one but fails ISO 13616 is refused, never sent) as `<IBAN>`, any other number as `<Othr><Id>`.
 */
function accountId(p: Party, indent: string): string {
  const lines = looksLikeIban(p.accountNumber)
    ? ['<Id>', `  <IBAN>${checkedIban(p)}</IBAN>`, '</Id>']
    : ['<Id>', '  <Othr>', `    <Id>${text(p.accountNumber, 34)}</Id>`, '  </Othr>', '</Id>']
  return lines.map((line) => indent + line).join('\n')
}

function checkedIban(p: Party): string {
  if (!ibanChecks(p.accountNumber))
    throw configError(
      'invalid_iban',
      `account number ${p.accountNumber} of ${p.name} looks like an IBAN but fails its check digits (ISO 13616)`,
      'correct it with `dsh branch settlement-account … --account-number` or `dsh tenant collection-account … --account-number`',
    )
  return compactIban(p.accountNumber)
}

/** An ISO 20022 pain.001.001.03 customer credit transfer initiation with one transaction. */
export function transferPain001(t: TransferInstruction): string {
  const amount = toDecimalString({ minor: t.amountMinor, currency: t.currency })
  const created = isoWithOffset(t.timeZone, new Date(t.createdAt))
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <CstmrCdtTrfInitn>
    <GrpHdr>
      <MsgId>${text(t.reference, 35)}</MsgId>
      <CreDtTm>${created}</CreDtTm>
      <NbOfTxs>1</NbOfTxs>
      <CtrlSum>${amount}</CtrlSum>
      <InitgPty>
        <Nm>${text(t.debtor.name, 140)}</Nm>
      </InitgPty>
    </GrpHdr>
    <PmtInf>
      <PmtInfId>${text(t.reference, 35)}</PmtInfId>
      <PmtMtd>TRF</PmtMtd>
      <NbOfTxs>1</NbOfTxs>
      <CtrlSum>${amount}</CtrlSum>
      <ReqdExctnDt>${t.valueDate}</ReqdExctnDt>
      <Dbtr>
        <Nm>${text(t.debtor.name, 140)}</Nm>
      </Dbtr>
      <DbtrAcct>
${accountId(t.debtor, '        ')}
        <Ccy>${t.currency}</Ccy>
      </DbtrAcct>
      <DbtrAgt>
${agent(t.debtor, '        ')}
      </DbtrAgt>
      <CdtTrfTxInf>
        <PmtId>
          <EndToEndId>${text(t.reference, 35)}</EndToEndId>
        </PmtId>
        <Amt>
          <InstdAmt Ccy="${t.currency}">${amount}</InstdAmt>
        </Amt>
        <CdtrAgt>
${agent(t.creditor, '          ')}
        </CdtrAgt>
        <Cdtr>
          <Nm>${text(t.creditor.name, 140)}</Nm>
        </Cdtr>
        <CdtrAcct>
${accountId(t.creditor, '          ')}
        </CdtrAcct>
        <RmtInf>
          <Ustrd>${text(t.narrative, 140)}</Ustrd>
        </RmtInf>
      </CdtTrfTxInf>
    </PmtInf>
  </CstmrCdtTrfInitn>
</Document>
`
}
