import { Command } from 'commander'
import type { CommandContext } from './context.js'

interface Node {
  path: string
  subcommands: string[]
  flags: string[]
}

function walk(cmd: Command, prefix: string, out: Node[]): void {
  const flags = [...cmd.options.map((o) => o.long).filter((l): l is string => Boolean(l)), '--help']
  let root: Command = cmd
  while (root.parent) root = root.parent
  if (cmd !== root) for (const o of root.options) if (o.long) flags.push(o.long)
  const subs = cmd.commands.filter((c) => c.name() !== 'help')
  out.push({ path: prefix, subcommands: subs.map((c) => c.name()), flags: [...new Set(flags)] })
  for (const c of subs) walk(c, prefix ? `${prefix} ${c.name()}` : c.name(), out)
}

function bash(nodes: Node[]): string {
  const cases = nodes
    .map((n) => `    "${n.path}") words="${[...n.subcommands, ...n.flags].join(' ')}" ;;`)
    .join('\n')
  const known = nodes.map((n) => `"${n.path}"`).join(' ')
  return `# dsh completion for bash (zsh: autoload -U +X bashcompinit && bashcompinit first)
_dsh() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" node="" w i words
  local known=(${known})
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    local next="\${node:+$node }$w"
    for k in "\${known[@]}"; do [[ "$k" == "$next" ]] && node="$next" && break; done
  done
  case "$node" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _dsh dsh
`
}

function fish(nodes: Node[]): string {
  const lines = ['# dsh completion for fish', 'complete -c dsh -f']
  for (const n of nodes) {
    const parts = n.path ? n.path.split(' ') : []
    const cond =
      parts.length === 0
        ? '__fish_use_subcommand'
        : `__fish_seen_subcommand_from ${parts[parts.length - 1]}`
    if (n.subcommands.length)
      lines.push(`complete -c dsh -n '${cond}' -a '${n.subcommands.join(' ')}'`)
    for (const f of n.flags) lines.push(`complete -c dsh -n '${cond}' -l ${f.slice(2)}`)
  }
  return `${lines.join('\n')}\n`
}

export function completionCommand(ctx: CommandContext): Command {
  return new Command('completion')
    .description('Print a shell completion script')
    .argument('<shell>', 'bash | zsh | fish')
    .addHelpText(
      'after',
      '\nExamples:\n  dsh completion bash > /etc/bash_completion.d/dsh\n  dsh completion zsh >> ~/.zshrc\n  dsh completion fish > ~/.config/fish/completions/dsh.fish',
    )
    .action(async (shell: string) => {
      const { buildProgram } = await import('./index.js')
      const root = await buildProgram(ctx.rt, [], true)
      const nodes: Node[] = []
      walk(root, '', nodes)
      if (shell === 'bash') ctx.rt.stdout.write(bash(nodes))
      else if (shell === 'zsh')
        ctx.rt.stdout.write(`autoload -U +X bashcompinit && bashcompinit\n${bash(nodes)}`)
      else if (shell === 'fish') ctx.rt.stdout.write(fish(nodes))
      else {
        const { usageError } = await import('../src/core/errors.js')
        throw usageError('unknown_shell', `no completion for "${shell}"`, 'use bash, zsh or fish')
      }
    })
}
