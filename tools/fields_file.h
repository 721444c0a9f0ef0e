/*
 * fields_file.h — scalar field values for `dann insert` / `dann upsert`
 * from a JSON-lines file: line i holds row i's fields as one JSON object,
 * beside row i of the vector file.
 *
 *   {"cat": 3, "name": "red shoe", "price": 9.5, "meta": {"a": [1, 2]}}
 *   {"cat": 1, "name": null, "price": 12, "color": "blue"}
 *
 * A schema field missing from a line, or null, is null (an error for a
 * field that is not nullable). Values must fit the field: true/false for
 * bool, integral numbers in range for intN, numbers for float/double,
 * strings of at most max_length bytes for varchar, any JSON for a JSON
 * field. Keys that are no field go to the dynamic field ($meta) when the
 * schema has one, and are an error otherwise. The primary key's name is
 * ignored (keys come from --ids / --first-id). Errors name the file, the
 * line and the field.
 */
#ifndef DANN_FIELDS_FILE_H
#define DANN_FIELDS_FILE_H

#include <stdint.h>

#include "../engine/dann.h"

struct fields_file;

int fields_file_read(const char *path, const struct dann_schema *s, struct fields_file **out);
void fields_file_free(struct fields_file *f);
uint64_t fields_file_rows(const struct fields_file *f);
/* The columns of rows [first, first + n) (views into f), their number. */
uint32_t fields_file_slice(const struct fields_file *f, uint64_t first, struct dann_column *cols);

#endif
