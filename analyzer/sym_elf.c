/*
 * The ELF side of the symbolizer (see sym_internal.h): function symbols
 * from .symtab and .dynsym, the GNU build id and the .gnu_debuglink name,
 * read through libelf. Every size and offset comes from the file, so every
 * libelf call is checked: a damaged file gives an error, never a crash.
 */
#include "sym_internal.h"

#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif

/* Rank of a symbol among aliases at one address: global before weak before
 * local, sized before unsized, then names without leading underscores. */
static uint8_t elf_rank(const GElf_Sym *sym, const char *name)
{
    unsigned bind = GELF_ST_BIND(sym->st_info);
    unsigned rank = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
    rank = rank * 2 + (sym->st_size == 0);
    unsigned underscores = 0;
    while (name[underscores] == '_' && underscores < 3)
        underscores++;
    return (uint8_t)(rank * 4 + underscores);
}

/* A section's name if it is short and printable, else its number. */
static void elf_section_label(const char *name, size_t index, char *out, size_t size)
{
    size_t n = name ? strnlen(name, 40) : 0;
    int printable = n > 0 && n < 40;
    for (size_t i = 0; printable && i < n; i++)
        printable = name[i] > 0x20 && name[i] < 0x7f;
    if (printable)
        snprintf(out, size, "%s", name);
    else
        snprintf(out, size, "#%zu", index);
}

/* Adds the defined function symbols of one symbol table section. */
static int elf_symbols(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr,
                       struct sym_table *funcs, struct sym_strings *pool)
{
    Elf_Data *data = elf_getdata(scn, NULL);
    if (!data || !shdr->sh_entsize)
        return -1;
    size_t count = data->d_size / gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
    for (size_t i = 0; i < count; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(data, (int)i, &sym))
            return -1;
        unsigned type = GELF_ST_TYPE(sym.st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF)
            continue;
        const char *name = elf_strptr(elf, shdr->sh_link, sym.st_name);
        if (!name || !*name || sym.st_value == 0)
            continue;
        struct sym_entry *e = sym_table_add(funcs);
        e->lo = e->entry = sym.st_value;
        e->hi = sym.st_value + (sym.st_size ? sym.st_size : 1);
        if (e->hi < e->lo)
            e->hi = UINT64_MAX;
        e->name = sym_strings_add(pool, name, strlen(name));
        e->file = "";
        e->quality = SYM_SYMTAB;
        e->rank = elf_rank(&sym, name);
    }
    return 0;
}

/* Looks for the GNU build id among the notes in data. */
static void elf_build_id(Elf_Data *data, struct sym_elf_info *info)
{
    size_t off = 0, name_off, desc_off;
    GElf_Nhdr note;
    while (off < data->d_size &&
           (off = gelf_getnote(data, off, &note, &name_off, &desc_off)) > 0) {
        if (note.n_type != NT_GNU_BUILD_ID || note.n_namesz != 4 ||
            memcmp((const char *)data->d_buf + name_off, "GNU", 4) != 0)
            continue;
        const unsigned char *id = (const unsigned char *)data->d_buf + desc_off;
        size_t n = note.n_descsz;
        if (n * 2 >= sizeof(info->build_id))
            n = (sizeof(info->build_id) - 1) / 2;
        for (size_t i = 0; i < n; i++)
            snprintf(info->build_id + 2 * i, 3, "%02x", id[i]);
        return;
    }
}

/* Build id from PT_NOTE segments, for files without section headers. */
static void elf_segment_notes(Elf *elf, struct sym_elf_info *info)
{
    size_t nphdr;
    if (elf_getphdrnum(elf, &nphdr) != 0)
        return;
    for (size_t i = 0; i < nphdr && !info->build_id[0]; i++) {
        GElf_Phdr phdr;
        if (!gelf_getphdr(elf, (int)i, &phdr) || phdr.p_type != PT_NOTE)
            continue;
        Elf_Data *data =
            elf_getdata_rawchunk(elf, (int64_t)phdr.p_offset, phdr.p_filesz, ELF_T_NHDR);
        if (data)
            elf_build_id(data, info);
    }
}

int sym_elf_read(int fd, struct sym_elf_info *info, struct sym_table *funcs,
                 struct sym_strings *pool, char *msg, size_t msg_size)
{
    memset(info, 0, sizeof(*info));
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
    if (!elf) {
        snprintf(msg, msg_size, "not an ELF file (%s)", elf_errmsg(-1));
        return -1;
    }
    int rc = 0;
    size_t shstrndx;
    GElf_Ehdr ehdr;
    if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr)) {
        snprintf(msg, msg_size, "not an ELF file");
        rc = -1;
        goto out;
    }
    struct stat st;
    uint64_t file_size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
    if (ehdr.e_shoff > file_size ||
        (uint64_t)ehdr.e_shnum * ehdr.e_shentsize > file_size - ehdr.e_shoff) {
        snprintf(msg, msg_size, "truncated: section headers past the end of the file");
        elf_segment_notes(elf, info);
        rc = -1;
        goto out;
    }
    if (elf_getshdrstrndx(elf, &shstrndx) != 0) {
        snprintf(msg, msg_size, "damaged ELF section headers (%s)", elf_errmsg(-1));
        elf_segment_notes(elf, info);
        rc = -1;
        goto out;
    }
    for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr shdr;
        if (!gelf_getshdr(scn, &shdr))
            continue;
        const char *name = elf_strptr(elf, shstrndx, shdr.sh_name);
        char label[64]; /* the name for messages: damaged names are not printed */
        elf_section_label(name, elf_ndxscn(scn), label, sizeof label);
        if (!name)
            name = "";
        if (shdr.sh_type != SHT_NOBITS &&
            (shdr.sh_offset > file_size || shdr.sh_size > file_size - shdr.sh_offset)) {
            snprintf(msg, msg_size, "truncated: section %s past the end of the file",
                     label);
            rc = -1;
            continue;
        }
        if (shdr.sh_type == SHT_SYMTAB || shdr.sh_type == SHT_DYNSYM) {
            if (elf_symbols(elf, scn, &shdr, funcs, pool) != 0) {
                snprintf(msg, msg_size, "damaged symbol table %s (%s)", label,
                         elf_errmsg(-1));
                rc = -1;
            }
        } else if (shdr.sh_type == SHT_NOTE && !info->build_id[0]) {
            Elf_Data *data = elf_getdata(scn, NULL);
            if (data)
                elf_build_id(data, info);
        } else if (strcmp(name, ".debug_info") == 0) {
            info->has_debug_info = shdr.sh_type != SHT_NOBITS && shdr.sh_size > 0;
        } else if (strcmp(name, ".gnu_debuglink") == 0 && shdr.sh_type != SHT_NOBITS) {
            Elf_Data *data = elf_getdata(scn, NULL);
            if (data && data->d_size > 0) {
                size_t n = strnlen(data->d_buf, data->d_size);
                if (n < sizeof(info->debuglink) && n < data->d_size)
                    memcpy(info->debuglink, data->d_buf, n + 1);
            }
        }
    }
    if (!info->build_id[0])
        elf_segment_notes(elf, info);
out:
    elf_end(elf);
    return rc;
}
