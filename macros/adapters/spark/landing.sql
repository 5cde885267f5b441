{#-
    check_raw_landing on Spark (on-run-start; macros/check_raw_landing.sql has
    the DuckDB reader this mirrors step by step).

    Why it differs: Spark reads the landing files in place too, but has no
    read_csv table function with options, no rejects table and runs one
    statement per call. So for every batch file it (re)creates an external
    table raw._raw_file_<md5 of the path> over the file itself (CSV: every
    header column as string, DROPMALFORMED mode; Parquet: the file's own schema), and the view raw.<table> is the union of
    those tables with every declared column as string (NULL when a file lacks
    an optional one) and the file's path as _source_file. Nothing is loaded:
    the tables are metadata over the files, read when a model reads the view.

      1. lists the table folders with Spark's binaryFile source (path, size,
         modification time; the content is not read). Spark itself skips names
         starting with . or _; another kind of file, a sub-folder or an empty
         file stops the run as on DuckDB;
      2. keeps the landing record raw._landed_files (a Parquet table; Spark
         cannot DELETE from Parquet, so a changed or gone file is removed by
         rewriting the record, spark_rewrite_without());
      3. reads the header of each new CSV file (its first line, unparsed, then
         split_csv_line) or Parquet file (its schema), and checks the required
         columns (check_raw_headers, shared with DuckDB);
      4. scans each new CSV file once (PERMISSIVE, with Spark's _corrupt_record
         column): a row Spark marks corrupt (wrong number
         of fields) goes to raw._malformed_rows with its file and line (the
         row's position + 1: exact unless an earlier row spans lines or a
         blank line was skipped), the rest of the file loads; a value Spark
         had to replace with U+FFFD (not valid in the file's encoding) stops
         the run naming file and line;
      5. (re)creates the views.

    The guards and their one-line messages (raw_batch_file_kind, check_raw_headers,
    raise_raw_encoding_problem, check_raw_table_has_files, raw_landing_date), the landing
    record's new/changed/gone comparison (raw_landing_changes) and the log lines are the
    macros the DuckDB reader calls (macros/check_raw_landing.sql), so both engines stop
    with the same line; only the reading differs here.

    Encodings: Spark's CSV reader decodes UTF-8, UTF-16 and Windows-1252 itself
    (multiLine mode honours the encoding option), so no UTF-8 copies are needed.
    Raw paths are kept as RETENTION_RAW_DIR spells them (a relative folder is
    resolved against the working directory, PWD), as DuckDB records them.
-#}
{% macro spark__check_raw_landing() %}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- do spark_land_raw_files() -%}
    {{ return('select 1') }}
{% endmacro %}


{#- A Spark SQL string literal: backslashes are escapes in Spark's literals. -#}
{%- macro spark_string(value) -%}
    '{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro -%}

{%- macro spark_string_list(values) -%}
    {%- for value in values -%}{{ spark_string(value) }}{{ ', ' if not loop.last }}{%- endfor -%}
{%- endmacro -%}

{%- macro spark_identifier(value) -%}
    `{{ value | string | replace('`', '``') }}`
{%- endmacro -%}

{#- Spark's name for an encoding of raw_table_encodings. -#}
{%- macro spark_encoding(encoding) -%}
    {{ {'utf-8': 'UTF-8', 'utf-16': 'UTF-16', 'windows-1252': 'windows-1252'}[encoding] }}
{%- endmacro -%}

{#- Spark cannot DELETE from a Parquet table: keep the rows not matching
    `condition` by writing them to a new table that replaces the old one. -#}
{% macro spark_rewrite_without(table, condition) %}
    {%- do run_query("drop table if exists " ~ table ~ "_next") -%}
    {%- do run_query("create table " ~ table ~ "_next using parquet as select * from "
        ~ table ~ " where not coalesce(" ~ condition ~ ", false)") -%}
    {%- do run_query("drop table " ~ table) -%}
    {%- do run_query("alter table " ~ table ~ "_next rename to " ~ table) -%}
{% endmacro %}

{#- The external table over one batch file. -#}
{% macro spark_raw_file_table(file) -%}
    raw._raw_file_{{ local_md5(file.path)[:16] }}
{%- endmacro %}

{#- The columns of a CSV file's external table: its header, in order. -#}
{% macro spark_csv_columns(file) -%}
    {%- set columns = [] -%}
    {%- for name in file.header -%}
        {%- do columns.append(spark_identifier(name if name else 'column' ~ loop.index) ~ ' string') -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#- The CSV reading of a batch file. DROPMALFORMED (the views) drops a row with
    the wrong number of fields whatever columns a query reads, because the
    profile turns off the CSV parser's column pruning; PERMISSIVE with the
    corrupt-record column is the landing scan that records those rows. -#}
{% macro spark_csv_options(file, mode) -%}
    path {{ spark_string(file.read_path) }}, header 'true', multiLine 'true', sep ',',
    quote '"', escape '"', mode '{{ mode }}', encoding '{{ spark_encoding(file.encoding) }}'
{%- endmacro %}

{% macro spark_land_raw_files() %}
    {%- set raw_dir = env_var('RETENTION_RAW_DIR', 'data/sample').rstrip('/') -%}
    {%- set absolute_dir = raw_dir if raw_dir.startswith('/')
        else env_var('PWD', '.').rstrip('/') ~ '/' ~ raw_dir -%}
    {%- set landing_date = raw_landing_date() -%}
    {%- set tables = raw_source_tables() -%}
    {%- set table_names = tables | map(attribute='identifier') | list -%}
    {%- set encodings = raw_table_encodings(table_names) -%}

    {%- for statement in [
        "create schema if not exists raw",
        "create table if not exists raw._landed_files (table_name string, file_path string,"
            ~ " file_name string, file_kind string, encoding string, file_size bigint,"
            ~ " file_modified_epoch bigint, header_columns string, landing_batch int,"
            ~ " landed_on date, first_landed_at timestamp) using parquet",
        "create table if not exists raw._malformed_rows (table_name string,"
            ~ " file_path string, line_number bigint, error_type string) using parquet",
    ] -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}

    {#- 1. What is in the folder. A glob that matches a sub-folder lists the files
        inside it, which is how a nested file shows up. -#}
    {%- set listing = run_query("select regexp_replace(path, '^file:(//)?', ''),"
        ~ " cast(length as string), cast(cast(modificationTime as bigint) as string)"
        ~ " from binaryFile.`" ~ absolute_dir ~ "/*/*` order by 1") -%}
    {%- set present = [] -%}
    {%- set ignored = [] -%}
    {%- for row in listing.rows -%}
        {%- set relative = row[0][absolute_dir | length + 1:] if row[0].startswith(absolute_dir ~ '/')
            else row[0] -%}
        {%- set path = raw_dir ~ '/' ~ relative -%}
        {%- set parts = relative.split('/') -%}
        {%- set table = parts[0] -%}
        {%- set name = parts[-1] -%}
        {%- if table not in table_names -%}
            {%- if table not in ignored -%}{%- do ignored.append(table) -%}{%- endif -%}
        {%- else -%}
            {%- set kind = raw_batch_file_kind(path, parts, row[1]) -%}
            {%- do present.append({'table': table, 'path': path, 'read_path': row[0],
                'name': name, 'kind': kind,
                'encoding': 'parquet' if kind == 'parquet' else encodings[table],
                'size': row[1], 'mtime': row[2]}) -%}
        {%- endif -%}
    {%- endfor -%}

    {#- 2. The landing record: what is new or changed since the last run. -#}
    {%- set changes = raw_landing_changes(present) -%}
    {%- set new_files = changes['new'] -%}
    {%- set gone = changes['gone'] -%}

    {#- 3. Headers of new files: the first line of each CSV read unparsed (no quote
        character, a separator that never occurs), the schema of each Parquet file. -#}
    {%- set new_csv = new_files | rejectattr('kind', 'equalto', 'parquet') | list -%}
    {%- if new_csv -%}
        {%- set parts = [] -%}
        {%- for file in new_csv -%}
            {%- do run_query("create or replace temporary view _landing_first_line_"
                ~ loop.index ~ " using csv options (path " ~ spark_string(file.read_path)
                ~ ", header 'false', sep '\\u001f', quote '\\u0000', encoding '"
                ~ spark_encoding(file.encoding) ~ "')") -%}
            {%- do parts.append("select " ~ loop.index ~ " as file_number, first_line from ("
                ~ "select _c0 as first_line from _landing_first_line_" ~ loop.index
                ~ " limit 1)") -%}
        {%- endfor -%}
        {%- set first_lines = {} -%}
        {%- for row in run_query(parts | join(' union all ')).rows -%}
            {%- do first_lines.update({row[0] | int: row[1]}) -%}
        {%- endfor -%}
        {%- for file in new_csv -%}
            {%- set line = (first_lines.get(loop.index) or '').rstrip('\r').lstrip('\ufeff') -%}
            {%- do file.update({'header': split_csv_line(line)}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for file in new_files if file.kind == 'parquet' -%}
        {%- set columns = run_query("select * from parquet.`" ~ file.read_path ~ "` limit 0")
            .column_names -%}
        {%- do file.update({'header': columns | list}) -%}
    {%- endfor -%}
    {%- do check_raw_headers(present) -%}

    {#- The external tables, one per batch file (stale ones dropped). -#}
    {%- set wanted = [] -%}
    {%- for file in present -%}
        {%- do wanted.append(spark_raw_file_table(file) | trim) -%}
    {%- endfor -%}
    {%- for row in run_query("show tables in raw like '_raw_file_*'").rows
            if not row[2] and 'raw.' ~ row[1] not in wanted -%}
        {%- do run_query("drop table if exists raw." ~ row[1]) -%}
    {%- endfor -%}
    {%- for file in present -%}
        {%- do run_query("drop table if exists " ~ spark_raw_file_table(file)) -%}
        {%- if file.kind == 'parquet' -%}
            {%- do run_query("create table " ~ spark_raw_file_table(file)
                ~ " using parquet options (path " ~ spark_string(file.read_path) ~ ")") -%}
        {%- else -%}
            {%- do run_query("create table " ~ spark_raw_file_table(file) ~ " ("
                ~ spark_csv_columns(file) | join(', ') ~ ") using csv options ("
                ~ spark_csv_options(file, 'DROPMALFORMED') ~ ")") -%}
        {%- endif -%}
    {%- endfor -%}

    {#- 4. One scan of each new CSV file: corrupt rows and undecodable bytes. In
        multiLine mode a file is one partition, so monotonically_increasing_id()
        numbers its rows 0, 1, ... in file order. -#}
    {%- if new_csv -%}
        {%- set scans = [] -%}
        {%- for file in new_csv -%}
            {%- set values = [] -%}
            {%- for name in file.header -%}
                {%- do values.append(spark_identifier(name if name else 'column' ~ loop.index)) -%}
            {%- endfor -%}
            {%- do scans.append("select " ~ spark_string(file.table) ~ " as table_name, "
                ~ spark_string(file.path) ~ " as file_path, line_number,"
                ~ " case when _corrupt_record is not null then case when size(split("
                ~ "_corrupt_record, ',')) > " ~ file.header | length ~ " then 'TOO MANY COLUMNS'"
                ~ " else 'MISSING COLUMNS' end end as error_type,"
                ~ " instr(concat_ws(char(1), " ~ values | join(', ') ~ ", _corrupt_record),"
                ~ " '\\ufffd') > 0 as is_undecodable"
                ~ " from (select *, monotonically_increasing_id() + 2 as line_number from "
                ~ "_landing_scan_" ~ loop.index ~ ")") -%}
            {%- do run_query("create or replace temporary view _landing_scan_" ~ loop.index
                ~ " (" ~ spark_csv_columns(file) | join(', ') ~ ", _corrupt_record string)"
                ~ " using csv options (" ~ spark_csv_options(file, 'PERMISSIVE')
                ~ ", columnNameOfCorruptRecord '_corrupt_record')") -%}
        {%- endfor -%}
        {#- Cached: Spark refuses a query of a CSV file that reads only its
            _corrupt_record column, and this reads the file once. -#}
        {%- do run_query("drop view if exists _landing_scan") -%}
        {%- do run_query("cache table _landing_scan as select * from ("
            ~ scans | join(' union all ') ~ ")") -%}
        {%- set bad = run_query("select file_path, min(line_number) from _landing_scan"
            ~ " where is_undecodable group by 1 order by 1 limit 1") -%}
        {%- if bad.rows | length > 0 -%}
            {%- set bad_file = present | selectattr('path', 'equalto', bad.rows[0][0]) | first -%}
            {%- do raise_raw_encoding_problem(bad.rows[0][0], bad.rows[0][1], bad_file.encoding,
                bad_file.table) -%}
        {%- endif -%}
        {%- do spark_rewrite_without('raw._malformed_rows', "file_path in ("
            ~ spark_string_list(new_csv | map(attribute='path')) ~ ")") -%}
        {%- do run_query("insert into raw._malformed_rows select table_name, file_path,"
            ~ " line_number, error_type from _landing_scan where error_type is not null") -%}
        {%- do run_query("uncache table _landing_scan") -%}
    {%- endif -%}

    {#- Update the record: gone and changed files out, new ones in as the next batch. -#}
    {%- set replaced = gone + new_files | map(attribute='path') | list -%}
    {%- if replaced -%}
        {%- do spark_rewrite_without('raw._landed_files', "file_path in ("
            ~ spark_string_list(replaced) ~ ")") -%}
    {%- endif -%}
    {%- if gone -%}
        {%- do spark_rewrite_without('raw._malformed_rows', "file_path in ("
            ~ spark_string_list(gone) ~ ")") -%}
    {%- endif -%}
    {%- if new_files -%}
        {%- set batch = run_query("select coalesce(max(landing_batch), 0) + 1"
            ~ " from raw._landed_files").columns[0].values()[0] -%}
        {%- set values = [] -%}
        {%- for file in new_files -%}
            {%- do values.append("(" ~ [spark_string(file.table), spark_string(file.path),
                spark_string(file.name), spark_string(file.kind), spark_string(file.encoding),
                file.size, file.mtime, spark_string(tojson(file.header)), batch | int,
                "cast(" ~ spark_string(landing_date) ~ " as date)",
                "current_timestamp()"] | join(', ') ~ ")") -%}
        {%- endfor -%}
        {%- do run_query("insert into raw._landed_files values " ~ values | join(', ')) -%}
    {%- endif -%}

    {#- 5. The views, and one line per optional table that is absent. -#}
    {%- for node in tables -%}
        {%- set files = present | selectattr('table', 'equalto', node.identifier) | list -%}
        {%- do check_raw_table_has_files(node, files, raw_dir) -%}
        {%- set selects = [] -%}
        {%- for file in files -%}
            {%- set by_name = {} -%}
            {%- for name in file.header -%}
                {%- do by_name.setdefault(name | trim | lower, name) -%}
            {%- endfor -%}
            {%- set select_list = [] -%}
            {%- for column in node.columns -%}
                {%- if column in by_name -%}
                    {%- do select_list.append("cast(" ~ spark_identifier(by_name[column])
                        ~ " as string) as " ~ column) -%}
                {%- else -%}
                    {%- do select_list.append("cast(null as string) as " ~ column) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- do select_list.append(spark_string(file.path) ~ " as _source_file") -%}
            {%- do selects.append("select " ~ select_list | join(', ') ~ " from "
                ~ spark_raw_file_table(file)) -%}
        {%- endfor -%}
        {%- if not selects -%}
            {%- set empty = [] -%}
            {%- for column in node.columns -%}
                {%- do empty.append("cast(null as string) as " ~ column) -%}
            {%- endfor -%}
            {%- do selects.append("select " ~ empty | join(', ')
                ~ ", cast(null as string) as _source_file limit 0") -%}
        {%- endif -%}
        {%- do run_query("create or replace view raw." ~ node.identifier ~ " as "
            ~ selects | join(' union all ')) -%}
    {%- endfor -%}
    {%- do log_ignored_raw_folders(ignored) -%}
{% endmacro %}
