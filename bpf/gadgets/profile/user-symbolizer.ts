/**
 * User-space frames of sampled processes to function names. A process's executable mappings are
 * read the first time it is seen (`observe`, called while it runs: the runner polls the sample
 * map), and the symbol tables of its mapped files are read then too, once per file (by device and
 * inode, so a binary shared by many containers is read once). Processes are keyed by pid and
 * command: an exec changes the command, and the new program's mappings are read then. A frame of a
 * process that was never observed, or of a file without symbols, keeps its module and offset.
 */
import { fileOffsetToVaddr, readElfSymbols, symbolAt, type ElfSymbolTable } from './elf-symbols.ts';
import { mappingAt, moduleName, readProcessMaps, type ExecMapping } from './process-maps.ts';

/** Bounds on what one trace keeps: processes and distinct files. */
const MAX_PROCESSES = 16_384;
const MAX_FILES = 4096;

export class UserSymbolizer {
  private readonly maps = new Map<string, ExecMapping[] | null>();
  private readonly files = new Map<string, ElfSymbolTable | null>();

  constructor(private readonly procRoot = '/proc') {}

  /**
   * Read the mappings (and their files' symbols) of `pid` running `comm` unless done already;
   * `refresh` reads them again if the process still runs (libraries loaded since). Returns false
   * when they could not be read.
   */
  observe(pid: number, comm: string, refresh = false): boolean {
    const key = `${pid}/${comm}`;
    const known = this.maps.get(key);
    if (known !== undefined && !refresh) return known !== null;
    if (known === undefined && this.maps.size >= MAX_PROCESSES) return false;
    const maps = readProcessMaps(pid, this.procRoot) ?? null;
    if (maps === null && known) return true; // gone since: keep what was read while it ran
    this.maps.set(key, maps);
    for (const m of maps ?? []) this.loadFile(m);
    return maps !== null;
  }

  /**
   * The frame of `address` in process `pid`: the function name, else `module+0xfileoffset`, else
   * `[unknown]`. `returnAddress`: the address follows a call (every frame but the first), so the
   * call instruction is what is looked up.
   */
  frame(pid: number, comm: string, address: number, returnAddress: boolean): string {
    const maps = this.maps.get(`${pid}/${comm}`);
    const m = maps ? mappingAt(maps, address) : undefined;
    if (!m) return '[unknown]';
    const fileOffset = address - m.start + m.offset;
    const table = m.fileKey ? this.files.get(m.fileKey) : undefined;
    if (table) {
      const vaddr = fileOffsetToVaddr(table, returnAddress ? fileOffset - 1 : fileOffset);
      const sym = vaddr === undefined ? undefined : symbolAt(table.symbols, vaddr);
      if (sym) return sym.name;
    }
    return `${moduleName(m)}+0x${fileOffset.toString(16)}`;
  }

  private loadFile(m: ExecMapping): void {
    if (!m.fileKey || this.files.has(m.fileKey) || this.files.size >= MAX_FILES) return;
    let table: ElfSymbolTable | null = null;
    for (const source of m.sources) {
      try {
        table = readElfSymbols(source);
        break;
      } catch {
        // next source; a file that no source can read keeps module+offset frames
      }
    }
    this.files.set(m.fileKey, table);
  }
}
