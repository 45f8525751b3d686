import { columns, csvTable } from '../csv.js'
import { toDecimalString } from '../money/format.js'

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

/** Max35Text / Max70Text / Max140Text: cut to the schema's length. */
const cut = (v: string, n: number) => esc(Array.from(v).slice(0, n).join(''))

function agent(p: Party, indent: string): string {
  const id = p.swift
    ? `<BIC>${esc(p.swift)}</BIC>`
    : `<Othr><Id>${cut(p.bankCode ?? 'NOTPROVIDED', 35)}</Id></Othr>`
  return `${indent}<FinInstnId>${id}</FinInstnId>`
}

/** A party's account as DbtrAcct/CdtrAcct identify it: `<Id><Othr><Id>number</Id></Othr></Id>`. */
const accountId = (p: Party, indent: string) =>
  ['<Id>', '  <Othr>', `    <Id>${cut(p.accountNumber, 34)}</Id>`, '  </Othr>', '</Id>']
    .map((line) => indent + line)
    .join('\n')

/** An ISO 20022 pain.001.001.03 customer credit transfer initiation with one transaction. */
export function transferPain001(t: TransferInstruction): string {
  const amount = toDecimalString({ minor: t.amountMinor, currency: t.currency })
  const created = `${t.createdAt.slice(0, 19)}`
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <CstmrCdtTrfInitn>
    <GrpHdr>
      <MsgId>${cut(t.reference, 35)}</MsgId>
      <CreDtTm>${created}</CreDtTm>
      <NbOfTxs>1</NbOfTxs>
      <CtrlSum>${amount}</CtrlSum>
      <InitgPty>
        <Nm>${cut(t.debtor.name, 70)}</Nm>
      </InitgPty>
    </GrpHdr>
    <PmtInf>
      <PmtInfId>${cut(t.reference, 35)}</PmtInfId>
      <PmtMtd>TRF</PmtMtd>
      <NbOfTxs>1</NbOfTxs>
      <CtrlSum>${amount}</CtrlSum>
      <ReqdExctnDt>${t.valueDate}</ReqdExctnDt>
      <Dbtr>
        <Nm>${cut(t.debtor.name, 70)}</Nm>
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
          <EndToEndId>${cut(t.reference, 35)}</EndToEndId>
        </PmtId>
        <Amt>
          <InstdAmt Ccy="${t.currency}">${amount}</InstdAmt>
        </Amt>
        <CdtrAgt>
${agent(t.creditor, '          ')}
        </CdtrAgt>
        <Cdtr>
          <Nm>${cut(t.creditor.name, 70)}</Nm>
        </Cdtr>
        <CdtrAcct>
${accountId(t.creditor, '          ')}
        </CdtrAcct>
        <RmtInf>
          <Ustrd>${cut(t.narrative, 140)}</Ustrd>
        </RmtInf>
      </CdtTrfTxInf>
    </PmtInf>
  </CstmrCdtTrfInitn>
</Document>
`
}
