{#-
    check_raw_landing(): runs at the start of every dbt invocation (on-run-start).

    On DuckDB the raw landing files are read in place, by DuckDB (never row by row
    in Python). For every source table of this project it

      1. lists the table folder RETENTION_RAW_DIR/<table>/: batch files are *.csv,
         *.csv.gz and *.parquet in any letter case; hidden files are skipped; any
         other file, a sub-folder or an empty (0-byte) file stops the run with one
         message naming it. Only `transactions` must have files; a missing optional
         table is logged in one line saying which feature is off;
      2. keeps the landing record raw._landed_files: one row per batch file with the
         run that first saw it (landing_batch), the day it landed (landed_on: var
         landing_date, else the environment variable RETENTION_LANDING_DATE, which
         `retention refresh` sets to its --through date (read only when dbt
         executes, so a new day leaves nothing to re-parse), else the run's UTC
         date) and its header. A file whose size or modification time
         changed is landed again. Landing order (which batch is newer) comes from
         this record, never from file names;
      3. reads the header of each new CSV file and checks it names every required
         column (raw_required_columns) once;
      4. scans each new CSV file once with DuckDB's rejects table: a row with the
         wrong number of fields (or an unclosed quote) goes to raw._malformed_rows
         with its file and line, the rest of the file loads; a line that is not
         valid in the table's encoding stops the run naming file and line;
      5. (re)creates the view raw.<table> over the files (every declared column as
         text, NULL when a file lacks an optional one), which is what the source
         points at.

    Encodings (RETENTION_RAW_ENCODING, see raw_table_encodings): UTF-8 with or
    without BOM by default, UTF-16; Windows-1252 / Latin-1 files are read from the
    UTF-8 copies the landing pre-flight (retention_warehouse/landing.py) writes to
    <warehouse>.landing/ (DuckDB reads no Windows-1252).

    On PostgreSQL the raw tables, the landing record and the malformed rows are
    loaded beforehand by `retention_warehouse.pg_loader`, which runs exactly this
    DuckDB reader (land_raw_files) and copies its result; postgres__check_raw_landing
    checks they exist and creates the PL/pgSQL helpers.
-#}
{% macro check_raw_landing() %}
    {{ return(adapter.dispatch('check_raw_landing', 'retention_warehouse')()) }}
{% endmacro %}

{% macro default__check_raw_landing() %}
    select 1
{% endmacro %}

{#- The raw tables the hook lands: every source of this project but the landing record itself. -#}
{% macro raw_source_tables() %}
    {%- set tables = [] -%}
    {%- for node in graph.get('sources', {}).values()
            if node.package_name == project_name and node.source_name != 'landing' -%}
        {%- do tables.append(node) -%}
    {%- endfor -%}
    {{ return(tables | sort(attribute='identifier')) }}
{% endmacro %}

{#- Encoding of each table from RETENTION_RAW_ENCODING: "enc" or "enc,table=enc,...".
    The names are those of retention_warehouse.contract.ENCODINGS. -#}
{% macro raw_table_encodings(tables) %}
    {%- set aliases = {
        'utf-8': 'utf-8', 'utf8': 'utf-8', 'utf-16': 'utf-16', 'utf16': 'utf-16',
        'windows-1252': 'windows-1252', 'cp1252': 'windows-1252', 'latin-1': 'windows-1252',
        'latin1': 'windows-1252', 'iso-8859-1': 'windows-1252'} -%}
    {%- set result = {} -%}
    {%- set ns = namespace(default='utf-8') -%}
    {%- for part in env_var('RETENTION_RAW_ENCODING', '').split(',') if part | trim -%}
        {%- set pieces = part.split('=') -%}
        {%- set name = pieces[-1] | trim | lower -%}
        {%- if name not in aliases -%}
            {{ exceptions.raise_compiler_error("RETENTION_RAW_ENCODING: unknown encoding '"
                ~ name ~ "' (use utf-8, utf-16, windows-1252 or latin-1).") }}
        {%- endif -%}
        {%- if pieces | length == 1 -%}
            {%- set ns.default = aliases[name] -%}
        {%- else -%}
            {%- do result.update({pieces[0] | trim: aliases[name]}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for table in tables if table not in result -%}
        {%- do result.update({table: ns.default}) -%}
    {%- endfor -%}
    {{ return(result) }}
{% endmacro %}

{#- The fields of one CSV line ("" inside quotes is one quote), as Python's csv module splits them. -#}
{% macro split_csv_line(line) %}
    {%- set fields = [] -%}
    {%- set ns = namespace(field='', quoted=false, closed=false) -%}
    {%- for char in line -%}
        {%- if ns.quoted -%}
            {%- if char == '"' -%}
                {%- set ns.quoted = false -%}
                {%- set ns.closed = true -%}
            {%- else -%}
                {%- set ns.field = ns.field ~ char -%}
            {%- endif -%}
        {%- elif char == '"' -%}
            {%- if ns.closed -%}
                {%- set ns.field = ns.field ~ '"' -%}
            {%- endif -%}
            {%- set ns.quoted = true -%}
            {%- set ns.closed = false -%}
        {%- elif char == ',' -%}
            {%- do fields.append(ns.field) -%}
            {%- set ns.field = '' -%}
            {%- set ns.closed = false -%}
        {%- else -%}
            {%- set ns.field = ns.field ~ char -%}
            {%- set ns.closed = false -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do fields.append(ns.field) -%}
    {{ return(fields) }}
{% endmacro %}

{%- macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro -%}

{#- A comma-separated list of SQL string literals. -#}
{%- macro sql_string_list(values) -%}
    {%- for value in values -%}{{ sql_string(value) }}{{ ', ' if not loop.last }}{%- endfor -%}
{%- endmacro -%}

{%- macro sql_identifier(value) -%}
    "{{ value | string | replace('"', '""') }}"
{%- endmacro -%}

{#- read_csv options for one batch file kind; `extra` adds e.g. the columns. -#}
{% macro raw_csv_options(read_kind, encoding) -%}
    header = true, auto_detect = false, delim = ',', quote = '"', escape = '"',
    encoding = '{{ encoding }}', compression = '{{ "gzip" if read_kind == "csv_gzip" else "none" }}'
{%- endmacro %}

{#- The batch-file kind of a file name (csv_gzip, csv, parquet; any letter case), or none. -#}
{% macro raw_file_kind(name) %}
    {%- set lowered = name | lower -%}
    {{ return('csv_gzip' if lowered.endswith('.csv.gz') and lowered | length > 7
        else 'csv' if lowered.endswith('.csv') and lowered | length > 4
        else 'parquet' if lowered.endswith('.parquet') and lowered | length > 8
        else none) }}
{% endmacro %}

{#- The one-line message every landing problem stops the run with, on DuckDB and Spark
    alike: "Raw landing problem: " and what is wrong, naming file (and line). -#}
{% macro raise_raw_landing_problem(message) %}
    {{ exceptions.raise_compiler_error("Raw landing problem: " ~ message) }}
{% endmacro %}

{#- The landing day of this run: var landing_date, else RETENTION_LANDING_DATE, else the
    run's UTC date; anything but YYYY-MM-DD stops the run. -#}
{% macro raw_landing_date() %}
    {%- set landing_date = var('landing_date', '') or env_var('RETENTION_LANDING_DATE', '')
        or run_started_at.strftime('%Y-%m-%d') -%}
    {%- if modules.re.match('^\d{4}-\d{2}-\d{2}$', landing_date | string) is none -%}
        {{ exceptions.raise_compiler_error("var landing_date must be YYYY-MM-DD, got '"
            ~ landing_date ~ "'") }}
    {%- endif -%}
    {{ return(landing_date) }}
{% endmacro %}

{#- A file below a table folder's sub-folder stops the run. -#}
{% macro raise_raw_file_in_sub_folder(path, table) %}
    {%- do raise_raw_landing_problem(path ~ " is inside a sub-folder of " ~ table ~ "/; batch"
        ~ " files must lie directly in the table folder (see docs/raw_data_contract.md).") -%}
{% endmacro %}

{#- The batch-file kind of a file listed in a table folder of the contract (raw_file_kind);
    a file in a sub-folder, another kind of file or an empty file stops the run naming it.
    parts: its path below the raw folder split at '/' (table folder first); size: bytes, as text. -#}
{% macro raw_batch_file_kind(path, parts, size) %}
    {%- if parts | length > 2 -%}
        {%- do raise_raw_file_in_sub_folder(path, parts[0]) -%}
    {%- endif -%}
    {%- set kind = raw_file_kind(parts[-1]) -%}
    {%- if kind is none -%}
        {%- do raise_raw_landing_problem(path ~ " is not a batch file; a table folder holds only"
            ~ " *.csv, *.csv.gz or *.parquet files (any letter case). Move it out or rename it.") -%}
    {%- endif -%}
    {%- if size | string == '0' -%}
        {%- do raise_raw_landing_problem(path ~ " is empty (0 bytes); a batch file needs at least"
            ~ " a header row (a header-only file is a valid empty batch).") -%}
    {%- endif -%}
    {{ return(kind) }}
{% endmacro %}

{#- A line of a batch file that is not valid in its table's encoding stops the run. -#}
{% macro raise_raw_encoding_problem(path, line, encoding, table) %}
    {%- do raise_raw_landing_problem(path ~ ", line " ~ line ~ ": not valid " ~ encoding
        ~ " text. Set RETENTION_RAW_ENCODING to the file's encoding (e.g."
        ~ " RETENTION_RAW_ENCODING=" ~ table ~ "=windows-1252), see docs/raw_data_contract.md.") -%}
{% endmacro %}

{#- What is new or changed since the last run, from the landing record raw._landed_files:
    a file is new unless the record has it with the same size, modification time and
    encoding (then its recorded header is used). Returns {'new': [files], 'gone': [paths]}.
    `string` is a type name DuckDB (an alias of varchar) and Spark both read. -#}
{% macro raw_landing_changes(present) %}
    {%- set recorded = {} -%}
    {%- for row in run_query("select file_path, cast(file_size as string),"
            ~ " cast(file_modified_epoch as string), encoding, header_columns"
            ~ " from raw._landed_files").rows -%}
        {%- do recorded.update({row[0]: row}) -%}
    {%- endfor -%}
    {%- set new_files = [] -%}
    {%- set present_paths = present | map(attribute='path') | list -%}
    {%- for file in present -%}
        {%- set known = recorded.get(file.path) -%}
        {%- if known and known[1] == file.size and known[2] == file.mtime
                and known[3] == file.encoding -%}
            {%- do file.update({'header': fromjson(known[4])}) -%}
        {%- else -%}
            {%- do new_files.append(file) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set gone = [] -%}
    {%- for path in recorded if path not in present_paths -%}
        {%- do gone.append(path) -%}
    {%- endfor -%}
    {{ return({'new': new_files, 'gone': gone}) }}
{% endmacro %}

{#- Every file's header names each required column once (a file: path, table,
    header; shared by the DuckDB and Spark landing). -#}
{% macro check_raw_headers(present) %}
    {%- for file in present -%}
        {%- set names = file.header | map('trim') | map('lower') | list -%}
        {%- for name in names if name and names.count(name) > 1 -%}
            {%- do raise_raw_landing_problem(file.path ~ ": the header names column '" ~ name
                ~ "' twice; every column may appear once.") -%}
        {%- endfor -%}
        {%- set required = raw_required_columns(file.table) -%}
        {%- for column in required if column not in names -%}
            {%- do raise_raw_landing_problem(file.path ~ ": missing required column '" ~ column
                ~ "' (its header has: " ~ (file.header | join(', ') or 'nothing') ~ "). Every "
                ~ file.table ~ " file needs: " ~ required | join(', ') ~ "; the other columns are"
                ~ " optional. See docs/raw_data_contract.md.") -%}
        {%- endfor -%}
    {%- endfor -%}

{% endmacro %}

{#- A table of the contract without batch files: `transactions` stops the run, another
    table is logged in one line saying what is off (the source's meta when_absent). -#}
{% macro check_raw_table_has_files(node, files, raw_dir) %}
    {%- if not files and node.identifier == 'transactions' -%}
        {%- do raise_raw_landing_problem("no batch files for the required raw table"
            ~ " 'transactions' (looked in " ~ raw_dir ~ "/transactions/ for *.csv, *.csv.gz or"
            ~ " *.parquet). Set RETENTION_RAW_DIR to a folder laid out as in"
            ~ " docs/raw_data_contract.md, or unset it to use the bundled sample.") -%}
    {%- endif -%}
    {%- if not files -%}
        {{ log("landing: no " ~ node.identifier ~ " files: "
            ~ (node.meta or {}).get('when_absent', 'this table is empty') ~ ".", info=true) }}
    {%- endif -%}
{% endmacro %}

{#- One line per folder of the raw folder that is no table of the contract. -#}
{% macro log_ignored_raw_folders(ignored) %}
    {%- for table in ignored -%}
        {{ log("landing: folder " ~ table ~ "/ is not a table of the contract and is ignored.",
            info=true) }}
    {%- endfor -%}
{% endmacro %}

{% macro duckdb__check_raw_landing() %}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {{ return(land_raw_files()) }}
{% endmacro %}

{#- The DuckDB reader itself (also run by retention_warehouse.pg_loader through
    `dbt run-operation land_raw_files_now`). Returns the view DDL to run. -#}
{% macro land_raw_files() %}
    {%- set raw_dir = env_var('RETENTION_RAW_DIR', 'data/sample').rstrip('/') -%}
    {%- set cache_dir = env_var('RETENTION_LANDING_DIR', target.path ~ '.landing') -%}
    {%- set landing_date = raw_landing_date() -%}
    {%- set tables = raw_source_tables() -%}
    {%- set table_names = tables | map(attribute='identifier') | list -%}
    {%- set encodings = raw_table_encodings(table_names) -%}

    {%- for statement in [
        "create schema if not exists raw",
        "create table if not exists raw._landed_files (table_name varchar, file_path varchar,"
            ~ " file_name varchar, file_kind varchar, encoding varchar, file_size bigint,"
            ~ " file_modified_epoch bigint, header_columns varchar, landing_batch integer,"
            ~ " landed_on date, first_landed_at timestamp)",
        "create table if not exists raw._malformed_rows (table_name varchar,"
            ~ " file_path varchar, line_number bigint, error_type varchar)",
    ] -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}

    {#- 1. What is in the folder (file metadata only; read_blob reads no content here). -#}
    {#- Files directly in a table folder (symlinks followed), then anything deeper: DuckDB's
        ** does not follow symlinks, so the two levels are listed apart. -#}
    {%- set listing = run_query(
        "select filename, cast(size as varchar), cast(cast(epoch(last_modified) as bigint)"
        ~ " as varchar) from read_blob(" ~ sql_string(raw_dir ~ '/*/*') ~ ") order by 1") -%}
    {%- set nested = run_query("select file from glob(" ~ sql_string(raw_dir ~ '/*/*/*')
        ~ ") order by 1").columns[0].values() | list -%}
    {%- for path in nested -%}
        {%- set parts = path[raw_dir | length + 1:].split('/') -%}
        {%- if parts[0] in table_names and not parts[1].startswith('.')
                and not parts[-1].startswith('.') -%}
            {%- do raise_raw_file_in_sub_folder(path, parts[0]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set transcoded = run_query(
        "select filename from read_blob(" ~ sql_string(cache_dir ~ '/transcoded/*/*') ~ ")")
        .columns[0].values() | list -%}
    {%- set present = [] -%}
    {%- set ignored = [] -%}
    {%- for row in listing.rows -%}
        {%- set path = row[0] -%}
        {%- set parts = path[raw_dir | length + 1:].split('/') -%}
        {%- set table = parts[0] -%}
        {%- set name = parts[-1] -%}
        {%- if table.startswith('.') or table.startswith('_') or name.startswith('.') -%}
        {%- elif table not in table_names -%}
            {%- if table not in ignored -%}{%- do ignored.append(table) -%}{%- endif -%}
        {%- else -%}
            {%- set kind = raw_batch_file_kind(path, parts, row[1]) -%}
            {%- set encoding = 'parquet' if kind == 'parquet' else encodings[table] -%}
            {%- set file = {'table': table, 'path': path, 'name': name, 'kind': kind,
                'encoding': encoding, 'size': row[1], 'mtime': row[2],
                'read_path': path, 'read_kind': kind, 'read_encoding': encoding} -%}
            {%- if encoding == 'windows-1252' -%}
                {%- set copy = cache_dir ~ '/transcoded/' ~ table ~ '/' ~ row[1] ~ '-' ~ row[2]
                    ~ '-' ~ name ~ '.csv' -%}
                {%- if copy not in transcoded -%}
                    {%- do raise_raw_landing_problem(table ~ " is set to Windows-1252"
                        ~ " (RETENTION_RAW_ENCODING) and " ~ path ~ " has no UTF-8 copy yet; run"
                        ~ " `retention build` or `retention refresh`, whose pre-flight converts it.") -%}
                {%- endif -%}
                {%- do file.update({'read_path': copy, 'read_kind': 'csv',
                    'read_encoding': 'utf-8'}) -%}
            {%- endif -%}
            {%- do present.append(file) -%}
        {%- endif -%}
    {%- endfor -%}

    {#- 2. The landing record: what is new or changed since the last run. -#}
    {%- set changes = raw_landing_changes(present) -%}
    {%- set new_files = changes['new'] -%}
    {%- set gone = changes['gone'] -%}

    {#- 3. Headers of new files: the first line of each CSV, the schema of each Parquet file.
        `parallel = false`: a parallel scan of a large file (with preserve_insertion_order
        off, as the profile sets it) can return a row from a later block under `limit 1`. -#}
    {%- set new_csv = new_files | rejectattr('kind', 'equalto', 'parquet') | list -%}
    {%- set new_parquet = new_files | selectattr('kind', 'equalto', 'parquet') | list -%}
    {%- if new_csv -%}
        {%- set parts = [] -%}
        {%- for file in new_csv -%}
            {%- do parts.append("select " ~ loop.index ~ " as file_number, first_line from ("
                ~ "select first_line from read_csv(" ~ sql_string(file.read_path)
                ~ ", header = false, auto_detect = false, columns = {'first_line': 'VARCHAR'},"
                ~ " delim = chr(31), quote = '', escape = '', ignore_errors = true,"
                ~ " parallel = false, encoding = '"
                ~ file.read_encoding ~ "', compression = '"
                ~ ('gzip' if file.read_kind == 'csv_gzip' else 'none') ~ "') limit 1)") -%}
        {%- endfor -%}
        {%- set first_lines = {} -%}
        {%- for row in run_query(parts | join(' union all ')).rows -%}
            {%- do first_lines.update({row[0] | int: row[1]}) -%}
        {%- endfor -%}
        {%- for file in new_csv -%}
            {%- set line = (first_lines.get(loop.index) or '').rstrip('\r') -%}
            {%- do file.update({'header': split_csv_line(line)}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if new_parquet -%}
        {%- set columns_of = {} -%}
        {%- for row in run_query("select file_name, name from parquet_schema(["
                ~ sql_string_list(new_parquet | map(attribute='path')) ~ "])"
                ~ " where num_children is null").rows -%}
            {%- do columns_of.setdefault(row[0], []).append(row[1]) -%}
        {%- endfor -%}
        {%- for file in new_parquet -%}
            {%- do file.update({'header': columns_of.get(file.path, [])}) -%}
        {%- endfor -%}
    {%- endif -%}

    {%- do check_raw_headers(present) -%}

    {#- 4. One rejects scan per group of new CSV files with the same header and reading. -#}
    {%- set scan_groups = {} -%}
    {%- for file in new_csv -%}
        {%- set key = [file.table, file.read_kind, file.read_encoding, tojson(file.header),
            file.path if file.encoding == 'windows-1252' else ''] | join('|') -%}
        {%- do scan_groups.setdefault(key, []).append(file) -%}
    {%- endfor -%}
    {%- for key, files in scan_groups.items() -%}
        {%- set first = files[0] -%}
        {%- set columns = [] -%}
        {%- for name in first.header -%}
            {%- do columns.append(sql_string(name if name else 'column' ~ loop.index)
                ~ ": 'VARCHAR'") -%}
        {%- endfor -%}
        {%- do run_query("drop table if exists _landing_rejects") -%}
        {%- do run_query("drop table if exists _landing_scans") -%}
        {#- Every column is read (hashed), so every value's encoding is checked. -#}
        {%- do run_query("select count(*), max(hash(columns(*))) from read_csv(["
            ~ sql_string_list(files | map(attribute='read_path')) ~ "], "
            ~ raw_csv_options(first.read_kind, first.read_encoding)
            ~ ", columns = {" ~ columns | join(', ') ~ "}, store_rejects = true,"
            ~ " rejects_table = '_landing_rejects', rejects_scan = '_landing_scans')") -%}
        {%- set whens = [] -%}
        {%- for file in files -%}
            {%- do whens.append("when " ~ sql_string(file.read_path) ~ " then "
                ~ sql_string(file.path)) -%}
        {%- endfor -%}
        {%- set path_of = "case scans.file_path " ~ whens | join(' ') ~ " end" -%}
        {%- set bad = run_query("select " ~ path_of ~ ", min(errors.line) from _landing_rejects"
            ~ " as errors inner join _landing_scans as scans using (scan_id, file_id)"
            ~ " where errors.error_type = 'INVALID ENCODING' group by 1 order by 1 limit 1") -%}
        {%- if bad.rows | length > 0 -%}
            {%- do raise_raw_encoding_problem(bad.rows[0][0], bad.rows[0][1], first.encoding,
                first.table) -%}
        {%- endif -%}
        {%- do run_query("delete from raw._malformed_rows where file_path in ("
            ~ sql_string_list(files | map(attribute='path')) ~ ")") -%}
        {%- do run_query("insert into raw._malformed_rows select " ~ sql_string(first.table)
            ~ ", " ~ path_of ~ ", errors.line, min(errors.error_type) from _landing_rejects"
            ~ " as errors inner join _landing_scans as scans using (scan_id, file_id)"
            ~ " group by all") -%}
        {%- do run_query("drop table if exists _landing_rejects") -%}
        {%- do run_query("drop table if exists _landing_scans") -%}
    {%- endfor -%}

    {#- Update the record: gone and changed files out, new ones in as the next batch. -#}
    {%- set replaced = gone + new_files | map(attribute='path') | list -%}
    {%- if replaced -%}
        {%- do run_query("delete from raw._landed_files where file_path in ("
            ~ sql_string_list(replaced) ~ ")") -%}
    {%- endif -%}
    {%- if gone -%}
        {%- do run_query("delete from raw._malformed_rows where file_path in ("
            ~ sql_string_list(gone) ~ ")") -%}
    {%- endif -%}
    {%- if new_files -%}
        {%- set batch = run_query("select coalesce(max(landing_batch), 0) + 1"
            ~ " from raw._landed_files").columns[0].values()[0] -%}
        {%- set values = [] -%}
        {%- for file in new_files -%}
            {%- do values.append("(" ~ [sql_string(file.table), sql_string(file.path),
                sql_string(file.name), sql_string(file.kind), sql_string(file.encoding),
                file.size, file.mtime, sql_string(tojson(file.header)), batch | int,
                "cast(" ~ sql_string(landing_date) ~ " as date)",
                "cast(current_timestamp as timestamp)"] | join(', ') ~ ")") -%}
        {%- endfor -%}
        {%- do run_query("insert into raw._landed_files values " ~ values | join(', ')) -%}
    {%- endif -%}

    {#- 5. The views, and one line per optional table that is absent. -#}
    {%- set statements = [] -%}
    {%- for node in tables -%}
        {%- set files = present | selectattr('table', 'equalto', node.identifier) | list -%}
        {%- do check_raw_table_has_files(node, files, raw_dir) -%}
        {%- set groups = {} -%}
        {%- for file in files -%}
            {%- set key = [file.read_kind, file.read_encoding, tojson(file.header),
                file.path if file.encoding == 'windows-1252' else ''] | join('|') -%}
            {%- do groups.setdefault(key, []).append(file) -%}
        {%- endfor -%}
        {%- set selects = [] -%}
        {%- for key, group in groups.items() -%}
            {%- set first = group[0] -%}
            {%- set by_name = {} -%}
            {%- for name in first.header -%}
                {%- do by_name.setdefault(name | trim | lower, name) -%}
            {%- endfor -%}
            {%- set select_list = [] -%}
            {%- for column in node.columns -%}
                {%- if column in by_name -%}
                    {%- do select_list.append("cast(" ~ sql_identifier(by_name[column])
                        ~ " as varchar) as " ~ column) -%}
                {%- else -%}
                    {%- do select_list.append("cast(null as varchar) as " ~ column) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- set paths = sql_string_list(group | map(attribute='read_path')) -%}
            {%- if first.kind == 'parquet' -%}
                {%- do select_list.append('_source_file') -%}
                {%- set reader = "read_parquet([" ~ paths ~ "], filename = '_source_file')" -%}
            {%- else -%}
                {%- set columns = [] -%}
                {%- for name in first.header -%}
                    {%- do columns.append(sql_string(name if name else 'column' ~ loop.index)
                        ~ ": 'VARCHAR'") -%}
                {%- endfor -%}
                {%- if first.encoding == 'windows-1252' -%}
                    {%- do select_list.append(sql_string(first.path) ~ " as _source_file") -%}
                {%- else -%}
                    {%- do select_list.append('_source_file') -%}
                {%- endif -%}
                {%- set reader = "read_csv([" ~ paths ~ "], "
                    ~ raw_csv_options(first.read_kind, first.read_encoding)
                    ~ ", columns = {" ~ columns | join(', ') ~ "}, ignore_errors = true,"
                    ~ " filename = '_source_file')" -%}
            {%- endif -%}
            {%- do selects.append("select " ~ select_list | join(', ') ~ " from " ~ reader) -%}
        {%- endfor -%}
        {%- if not selects -%}
            {%- set empty = [] -%}
            {%- for column in node.columns -%}
                {%- do empty.append("cast(null as varchar) as " ~ column) -%}
            {%- endfor -%}
            {%- do selects.append("select " ~ empty | join(', ')
                ~ ", cast(null as varchar) as _source_file limit 0") -%}
        {%- endif -%}
        {%- do statements.append("create or replace view raw." ~ node.identifier ~ " as "
            ~ selects | join(' union all ')) -%}
    {%- endfor -%}
    {%- do log_ignored_raw_folders(ignored) -%}
    {{ return(statements | join(';\n')) }}
{% endmacro %}

{#- `dbt run-operation land_raw_files_now`: the landing above, executed (the PostgreSQL
    loader reads its result from a throwaway DuckDB file). -#}
{% macro land_raw_files_now() %}
    {%- for statement in land_raw_files().split(';\n') if statement | trim -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
{% endmacro %}


{#-
    check_raw_landing on PostgreSQL (on-run-start).
    Why it differs: DuckDB creates views over the landing files here; PostgreSQL
    cannot read them, so the loader has already created raw.<table> (and the landing
    record raw._landed_files and raw._malformed_rows) from the DuckDB reader above.
    This checks that every source table exists with every declared column (one clear
    message otherwise, naming the loader), then (re)creates the PL/pgSQL helpers used
    by cast_or_null and parse_timestamp_utc: PostgreSQL 15 has no try_cast or
    try_strptime, and a failing cast can only be caught in PL/pgSQL.
-#}
{% macro postgres__check_raw_landing() %}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set loader_hint = "Load the raw files first: python -m retention_warehouse.pg_loader --raw-dir <folder> "
        ~ "(same RETENTION_PG_* settings as the postgres target)." -%}
    {%- set described = run_query(
        "select table_name, column_name from information_schema.columns"
        ~ " where table_schema = 'raw' and table_catalog = current_database()") -%}
    {%- set present = {} -%}
    {%- for row in described.rows -%}
        {%- do present.setdefault(row[0] | lower, []).append(row[1] | lower) -%}
    {%- endfor -%}
    {%- for node in graph.sources.values() if node.package_name == project_name -%}
        {%- if node.identifier | lower not in present -%}
            {{ exceptions.raise_compiler_error(
                "Raw landing problem: table raw." ~ node.identifier ~ " does not exist in database '"
                ~ target.dbname ~ "'. " ~ loader_hint) }}
        {%- endif -%}
        {%- set columns = present[node.identifier | lower] -%}
        {%- set expected = (node.columns | list)
            + ([] if node.source_name == 'landing' else ['_source_file']) -%}
        {%- for column in expected if column | lower not in columns -%}
            {{ exceptions.raise_compiler_error(
                "Raw landing problem: table raw." ~ node.identifier ~ " has no column '" ~ column
                ~ "' (found: " ~ columns | reject('equalto', '_source_file') | join(', ') ~ "). "
                ~ loader_hint) }}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(postgres_helper_functions_sql()) }}
{% endmacro %}


{#- raw_table_is_landed(table_name): true when the landing record holds a batch
    file of the table (run time; at parse time true). base_crm__customers uses it
    to derive customers from the ledger when no CRM export was landed. -#}
{% macro raw_table_is_landed(table_name) %}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set record = api.Relation.create(
        database=target.database if target.database is defined else none, schema='raw',
        identifier='_landed_files') -%}
    {%- set result = run_query("select count(*) from " ~ record
        ~ " where table_name = '" ~ table_name ~ "'") -%}
    {{ return(result.columns[0].values()[0] | int > 0) }}
{% endmacro %}
