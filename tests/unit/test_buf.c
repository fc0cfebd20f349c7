/*
 * test_buf.c - unit tests for the batch buffer and the batch arena
 * (src/buf.c): the memory every micro-batch lives in.
 *
 * The buffer must grow geometrically and refuse sizes that overflow; the
 * arena must hand out 8-aligned, non-overlapping memory from a zeroed
 * struct on, serve large requests, and after a reset reuse its largest
 * block. Memory made room for is faulted in ahead of its writes, a step
 * at a time (checked with mincore()). A record file a failed start made is
 * taken back.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "wcstream/buf.h"

/* ---- buf --------------------------------------------------------------- */

Test(buf, append_from_zeroed_struct)
{
    struct wcs_buf b = {0};

    cr_assert_eq(wcs_buf_append(&b, "hello ", 6), 0);
    cr_assert_eq(wcs_buf_append(&b, "world\0!", 7), 0);
    cr_assert_eq(b.len, 13);
    cr_assert_geq(b.cap, b.len);
    cr_expect(memcmp(b.data, "hello world\0!", 13) == 0);
    cr_expect_eq(wcs_buf_append(&b, NULL, 0), 0, "appending nothing is fine");
    cr_expect_eq(b.len, 13);
    wcs_buf_free(&b);
    cr_expect_null(b.data);
    cr_expect_eq(b.len, 0);
    cr_expect_eq(b.cap, 0);
    /* reusable after free */
    cr_assert_eq(wcs_buf_append(&b, "x", 1), 0);
    cr_expect_eq(b.len, 1);
    cr_expect_eq(b.data[0], 'x');
    wcs_buf_free(&b);
    wcs_buf_free(NULL);
}

Test(buf, growth_is_geometric_and_keeps_content)
{
    struct wcs_buf b = {0};
    size_t changes = 0, lastcap = 0;
    const size_t total = 3 * 1000 * 1000;

    for (size_t i = 0; i < total; i++) {
        char c = (char)(i * 131 % 251);
        cr_assert_eq(wcs_buf_append(&b, &c, 1), 0);
        if (b.cap != lastcap) {
            cr_assert_geq(b.cap, lastcap * 2, "capacity at least doubles (%zu -> %zu)", lastcap,
                          b.cap);
            lastcap = b.cap;
            changes++;
        }
    }
    cr_expect_leq(changes, 20, "%zu reallocations for %zu bytes", changes, total);
    cr_assert_eq(b.len, total);
    for (size_t i = 0; i < total; i++)
        cr_assert_eq(b.data[i], (char)(i * 131 % 251), "byte %zu", i);
    wcs_buf_free(&b);
}

Test(buf, big_appends)
{
    struct wcs_buf b = {0};
    size_t n = 5 * 1024 * 1024 + 3;
    char *src = malloc(n);
    cr_assert_not_null(src);
    for (size_t i = 0; i < n; i++)
        src[i] = (char)(i % 97);

    cr_assert_eq(wcs_buf_append(&b, "ab", 2), 0);
    cr_assert_eq(wcs_buf_append(&b, src, n), 0);
    cr_assert_eq(b.len, n + 2);
    cr_expect(memcmp(b.data, "ab", 2) == 0);
    cr_expect(memcmp(b.data + 2, src, n) == 0);
    free(src);
    wcs_buf_free(&b);
}

Test(buf, reserve)
{
    struct wcs_buf b = {0};

    cr_assert_eq(wcs_buf_reserve(&b, 0), 0);
    cr_assert_eq(wcs_buf_reserve(&b, 1000), 0);
    cr_expect_eq(b.len, 0);
    cr_expect_geq(b.cap, 1000);
    char *data = b.data;
    size_t cap = b.cap;
    cr_assert_eq(wcs_buf_append(&b, "abc", 3), 0);
    cr_expect_eq(b.data, data, "append within reserved room does not move the data");
    cr_assert_eq(wcs_buf_reserve(&b, cap - 3), 0);
    cr_expect_eq(b.cap, cap, "no growth when the room is there");
    cr_assert_eq(wcs_buf_reserve(&b, cap), 0);
    cr_expect_geq(b.cap - b.len, cap);
    cr_expect(memcmp(b.data, "abc", 3) == 0);
    wcs_buf_free(&b);
}

/* How many of the whole pages in [p, p + len) are resident. */
static size_t bf_resident(const void *p, size_t len, size_t *pages)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t end = ((uintptr_t)p + len) & ~(uintptr_t)(page - 1);
    *pages = end > start ? (end - start) / page : 0;
    unsigned char *vec = calloc(*pages + 1, 1);
    cr_assert_not_null(vec);
    cr_assert_eq(mincore((void *)start, end - start, vec), 0);
    size_t n = 0;
    for (size_t i = 0; i < *pages; i++)
        n += vec[i] & 1;
    free(vec);
    return n;
}

/* MADV_POPULATE_WRITE is Linux 5.14 and later; without it wcs_prefault()
 * does nothing, as it should. */
static void bf_need_populate(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    int rc = madvise(p, page, MADV_POPULATE_WRITE);
    munmap(p, page);
    if (rc < 0)
        cr_skip_test("this kernel has no MADV_POPULATE_WRITE");
}

Test(buf, reserve_faults_in_the_room_it_makes)
{
    bf_need_populate();
    struct wcs_buf b = {0};
    size_t pages, room = (size_t)16 << 20;
    cr_assert_eq(wcs_buf_reserve(&b, room), 0);
    cr_expect_geq(b.faulted, room);
    cr_expect_eq(bf_resident(b.data, room, &pages), pages, "resident before any write");
    wcs_buf_free(&b);
    cr_expect_eq(b.faulted, 0);
}

/* Filled bit by bit, memory is faulted in a step ahead of the writes, and
 * not beyond: a call per step, and no more resident than a step. */
Test(buf, prefault_keeps_a_step_ahead)
{
    bf_need_populate();
    size_t cap = 8 * WCS_PREFAULT_STEP, faulted = 0, pages;
    char *m = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    wcs_prefault_upto(m, &faulted, 1000, cap);
    cr_expect_eq(faulted, 1000 + WCS_PREFAULT_STEP);
    wcs_prefault_upto(m, &faulted, 2000, cap);
    cr_expect_eq(faulted, 1000 + WCS_PREFAULT_STEP, "within the step: no call");
    cr_expect_eq(bf_resident(m, WCS_PREFAULT_STEP, &pages), pages);
    cr_expect_eq(bf_resident(m + 2 * WCS_PREFAULT_STEP, WCS_PREFAULT_STEP, &pages), 0,
                 "nothing past the step");
    wcs_prefault_upto(m, &faulted, cap - 10, cap);
    cr_expect_eq(faulted, cap, "at most the capacity");
    cr_expect_eq(bf_resident(m, cap, &pages), pages);
    munmap(m, cap);
}

Test(buf, overflow_is_enomem_and_leaves_buffer_unchanged)
{
    struct wcs_buf b = {0};

    cr_assert_eq(wcs_buf_append(&b, "abc", 3), 0);
    char *data = b.data;
    size_t cap = b.cap;
    cr_expect_eq(wcs_buf_reserve(&b, SIZE_MAX), -ENOMEM);
    cr_expect_eq(wcs_buf_reserve(&b, SIZE_MAX - 2), -ENOMEM);
    cr_expect_eq(wcs_buf_append(&b, "x", SIZE_MAX), -ENOMEM);
    cr_expect_eq(b.data, data);
    cr_expect_eq(b.len, 3);
    cr_expect_eq(b.cap, cap);
    cr_expect(memcmp(b.data, "abc", 3) == 0);
    wcs_buf_free(&b);
}

/* ---- arena ------------------------------------------------------------- */

Test(arena, zeroed_struct_is_empty_arena)
{
    struct wcs_arena a = {0};

    wcs_arena_reset(&a);
    cr_expect_null(a.head);
    char *p = wcs_arena_alloc(&a, 10);
    cr_assert_not_null(p);
    memset(p, 'x', 10);
    cr_expect_not_null(a.head);
    wcs_arena_free(&a);
    cr_expect_null(a.head);
    cr_expect_eq(a.used, 0);
    wcs_arena_free(&a);
    wcs_arena_free(NULL);
}

Test(arena, alignment_and_no_overlap)
{
    struct wcs_arena a = {0};
    enum { N = 20000 };
    unsigned char *ptrs[N];
    size_t sizes[N];

    for (size_t i = 0; i < N; i++) {
        sizes[i] = (i * 7919) % 61; /* 0..60, includes odd sizes and 0 */
        ptrs[i] = wcs_arena_alloc(&a, sizes[i]);
        cr_assert_not_null(ptrs[i]);
        cr_assert_eq((uintptr_t)ptrs[i] % 8, 0, "allocation %zu of %zu bytes is misaligned", i,
                     sizes[i]);
        memset(ptrs[i], (int)(i & 0xff), sizes[i]);
    }
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < sizes[i]; k++)
            cr_assert_eq(ptrs[i][k], (unsigned char)(i & 0xff), "allocation %zu overwritten", i);
    wcs_arena_free(&a);
}

Test(arena, dup_copies_bytes)
{
    struct wcs_arena a = {0};
    char *p = wcs_arena_dup(&a, "a\0b\xff", 4);

    cr_assert_not_null(p);
    cr_expect(memcmp(p, "a\0b\xff", 4) == 0);
    cr_expect_not_null(wcs_arena_dup(&a, NULL, 0));
    char *q = wcs_arena_dup(&a, "zz", 2);
    cr_expect(memcmp(p, "a\0b\xff", 4) == 0, "later allocations do not clobber earlier ones");
    cr_expect(memcmp(q, "zz", 2) == 0);
    wcs_arena_free(&a);
}

Test(arena, large_allocations)
{
    struct wcs_arena a = {0};
    char *small = wcs_arena_alloc(&a, 16);
    cr_assert_not_null(small);
    memcpy(small, "0123456789abcdef", 16);

    size_t sizes[] = {64 * 1024, 64 * 1024 + 1, 1 << 20, 10 << 20, 3};
    char *big[5];
    for (size_t i = 0; i < 5; i++) {
        big[i] = wcs_arena_alloc(&a, sizes[i]);
        cr_assert_not_null(big[i]);
        cr_expect_eq((uintptr_t)big[i] % 8, 0);
        memset(big[i], (int)('A' + i), sizes[i]);
    }
    for (size_t i = 0; i < 5; i++) {
        cr_expect_eq(big[i][0], (char)('A' + i));
        cr_expect_eq(big[i][sizes[i] - 1], (char)('A' + i));
    }
    cr_expect(memcmp(small, "0123456789abcdef", 16) == 0);
    /* the small allocations after a big one still share the first block */
    char *next = wcs_arena_alloc(&a, 8);
    cr_expect_eq(next, big[4] + 8);
    wcs_arena_free(&a);
}

Test(arena, reset_keeps_the_largest_block)
{
    struct wcs_arena a = {0};

    for (int i = 0; i < 1000; i++)
        cr_assert_not_null(wcs_arena_alloc(&a, 1000));
    cr_assert_not_null(wcs_arena_alloc(&a, 8 << 20));
    for (int i = 0; i < 1000; i++)
        cr_assert_not_null(wcs_arena_alloc(&a, 1000));

    wcs_arena_reset(&a);
    cr_expect_not_null(a.head, "one block is kept");
    cr_expect_eq(a.used, 0);
    /* the kept block is the 8 MiB one: 8 MiB fit in it, right after 8 bytes */
    char *p = wcs_arena_alloc(&a, 8);
    char *q = wcs_arena_alloc(&a, (8 << 20) - 8);
    cr_assert_not_null(p);
    cr_expect_eq(q, p + 8);
    memset(q, 1, (8 << 20) - 8);

    /* reset again, and the arena keeps working as before */
    wcs_arena_reset(&a);
    char *r = wcs_arena_alloc(&a, 24);
    cr_expect_eq(r, p, "a reset arena starts again at the start of its kept block");
    wcs_arena_free(&a);
    cr_expect_null(a.head);
}

Test(arena, impossible_sizes_return_null)
{
    struct wcs_arena a = {0};

    cr_expect_null(wcs_arena_alloc(&a, SIZE_MAX));
    cr_expect_null(wcs_arena_alloc(&a, SIZE_MAX - 3));
    cr_expect_null(wcs_arena_dup(&a, "x", SIZE_MAX));
    cr_expect_not_null(wcs_arena_alloc(&a, 1), "still usable afterwards");
    wcs_arena_free(&a);
}

Test(buf, printf_short_and_long)
{
    struct wcs_buf b = {0};
    cr_assert_eq(wcs_buf_printf(&b, "n=%d", 42), 0);
    cr_assert_eq(wcs_buf_printf(&b, ",%s", ""), 0);
    cr_expect_eq(b.len, 5);
    cr_expect(memcmp(b.data, "n=42,", 5) == 0);
    char big[1000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cr_assert_eq(wcs_buf_printf(&b, "[%s]", big), 0, "longer than the stack buffer");
    cr_expect_eq(b.len, 5 + 1001);
    cr_expect_eq(b.data[5], '[');
    cr_expect_eq(b.data[5 + 1000], ']');
    cr_expect_eq(b.data[5 + 500], 'z');
    wcs_buf_free(&b);
}

/* ---- record files ------------------------------------------------------- */

/* The file a failed start made is taken back, and only that: not a file
 * that was there before, nor one that holds a record, nor a new file that
 * took its name. */
Test(record_file, unmake_takes_back_only_a_new_empty_file)
{
    char dir[] = "/tmp/wcs_record_XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/r.jsonl", dir);
    bool made = false;

    int fd = wcs_record_file_open(path, &made);
    cr_assert_geq(fd, 0);
    cr_expect(made);
    wcs_record_file_unmake(fd, path);
    cr_expect_eq(access(path, F_OK), -1, "the new empty file is gone");

    fd = wcs_record_file_open(path, &made);
    struct wcs_buf b = {0};
    cr_assert_eq(wcs_buf_append(&b, "{}\n", 3), 0);
    cr_assert_eq(wcs_buf_write_record(fd, &b), 0);
    wcs_record_file_unmake(fd, path);
    cr_expect_eq(access(path, F_OK), 0, "a file with a record stays");

    cr_assert_eq(truncate(path, 0), 0);
    fd = wcs_record_file_open(path, &made);
    cr_expect_not(made, "it was there");

    cr_assert_eq(unlink(path), 0);
    int other = wcs_record_file_open(path, NULL);
    wcs_record_file_unmake(fd, path);
    cr_expect_eq(access(path, F_OK), 0, "another file under the name stays");
    close(other);

    unlink(path);
    rmdir(dir);
    wcs_buf_free(&b);
}
