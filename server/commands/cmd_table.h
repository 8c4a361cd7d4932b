/* cmd_table.h — the command families that make up the table
 * (exec/cmd_lookup.c builds and indexes it). */
#ifndef SKV_SERVER_CMD_TABLE_H
#define SKV_SERVER_CMD_TABLE_H

/* Add every family's definitions with cmd_table_add, in table order. Given
 * to cmd_table_set_families at start-up (app/hooks.c, or a unit test);
 * exec/cmd_lookup.c calls it once, on the first lookup. */
void cmd_table_families(void);

#endif
