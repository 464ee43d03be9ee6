-- Schedules of Glue triggers and crawlers (src/glue/cron.sql): the strict
-- parser every schedule passes before it is stored, and again before it is
-- handed to pg_cron (triggers.sql, crawlers.sql, trigger_cron.c).
--
-- Accepted:
--   cron(Minutes Hours Day-of-month Month Day-of-week Year)   Glue's form
--   five fields "m h dom mon dow"                               pg_cron's form
-- Each field is a list of items: *, a number, a range a-b, each optionally
-- /step; "a/step" means "a to the field's maximum, every step" (Glue's
-- 0/15).  Months JAN-DEC and days SUN-SAT are names; in Glue's form ? is
-- "any" (day-of-month or day-of-week), days of the week are 1-7 with 1 =
-- Sunday, and the year must be * (or ?).  pg_cron's form numbers days
-- 0-7 with 0 and 7 = Sunday.  What pg_cron cannot express (L, W, #, a
-- year) is refused, naming the part.  The result has only digits, *, -,
-- /, commas and four single spaces.
--
-- Errors: InvalidInputException (22023).

-- Refuse a part that uses Quartz's L, W or #.
CREATE FUNCTION glue._cron_unsupported(schedule text, part text, v text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    PERFORM glue._invalid(format('schedule "%s": the %s part "%s" uses L, W or #, which pg_cron cannot express',
                                 schedule, part, v),
                          'Use numbers, ranges (a-b), lists (a,b), steps (*/n, a/n) and names (JAN-DEC, SUN-SAT).');
END
$$;

-- One field: the pg_cron text of field value v (part: its name in errors;
-- lo-hi: its range; names: its names, the first worth first_named; shift:
-- added to numbers, for Glue's days of the week).
CREATE FUNCTION glue._cron_field(schedule text, part text, v text, lo integer, hi integer,
        names text[] DEFAULT NULL, first_named integer DEFAULT 0, shift integer DEFAULT 0, any_ok boolean DEFAULT false)
    RETURNS text LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    item text;
    m text[];
    out text[] := '{}';
    a integer;
    b integer;
    bounds text[];
BEGIN
    FOREACH item IN ARRAY string_to_array(v, ',') LOOP
        m := regexp_match(upper(item), '^(\*|\?|[0-9A-Z]+(?:-[0-9A-Z]+)?)(?:/([0-9]+))?$');
        IF m IS NULL AND item ~ '[LW#]' THEN
            PERFORM glue._cron_unsupported(schedule, part, v);
        ELSIF m IS NULL OR (m[1] = '?' AND (NOT any_ok OR m[2] IS NOT NULL)) THEN
            PERFORM glue._invalid(format('schedule "%s": the %s part "%s" is not a list of *, a, a-b, each with an optional /step',
                                         schedule, part, v),
                                  'For example cron(0/15 * * * ? *) or */15 * * * *.');
        END IF;
        IF m[1] IN ('*', '?') THEN
            out := out || ('*' || coalesce('/' || m[2], ''));
            CONTINUE;
        END IF;
        bounds := string_to_array(m[1], '-');
        FOR i IN 1 .. cardinality(bounds) LOOP
            IF bounds[i] ~ '^[0-9]{1,4}$' THEN
                bounds[i] := (bounds[i]::integer + shift)::text;
            ELSIF names IS NOT NULL AND array_position(names, bounds[i]) IS NOT NULL THEN
                bounds[i] := (array_position(names, bounds[i]) - 1 + first_named)::text;
            ELSIF bounds[i] ~ '[LW#]' THEN
                PERFORM glue._cron_unsupported(schedule, part, v);
            ELSE
                PERFORM glue._invalid(format('schedule "%s": the %s part "%s" has "%s", which is neither a number nor a name',
                                             schedule, part, v, bounds[i]));
            END IF;
            IF bounds[i]::integer NOT BETWEEN lo AND hi THEN
                PERFORM glue._invalid(format('schedule "%s": the %s part "%s" is out of range', schedule, part, v),
                                      format('The %s part takes %s to %s.', part, lo - shift, hi - shift));
            END IF;
        END LOOP;
        a := bounds[1]::integer;
        b := coalesce(bounds[2]::integer, CASE WHEN m[2] IS NOT NULL THEN hi END, a);
        IF b < a THEN
            PERFORM glue._invalid(format('schedule "%s": the %s part "%s" has a range that ends before it starts',
                                         schedule, part, v));
        END IF;
        IF m[2] IS NOT NULL AND m[2]::integer NOT BETWEEN 1 AND hi - lo + 1 THEN
            PERFORM glue._invalid(format('schedule "%s": the %s part "%s" has a step out of range', schedule, part, v));
        END IF;
        out := out || (a::text || CASE WHEN b <> a THEN '-' || b ELSE '' END || coalesce('/' || m[2], ''));
    END LOOP;
    IF cardinality(out) = 0 THEN
        PERFORM glue._invalid(format('schedule "%s": the %s part is empty', schedule, part));
    END IF;
    RETURN array_to_string(out, ',');
END
$$;

-- A schedule (Glue's cron(...) or five pg_cron fields) as the pg_cron
-- expression it means, or InvalidInputException naming the part.
CREATE FUNCTION glue._cron_expression(schedule text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    f text[];
    glue_form boolean := schedule ~* '^\s*cron\(.*\)\s*$';
    months text[] := '{JAN,FEB,MAR,APR,MAY,JUN,JUL,AUG,SEP,OCT,NOV,DEC}';
    days text[] := '{SUN,MON,TUE,WED,THU,FRI,SAT}';
BEGIN
    IF schedule IS NULL OR length(schedule) > 256 OR schedule ~ '[[:cntrl:]]' THEN
        PERFORM glue._invalid(format('schedule %s is not a cron expression of at most 256 printable characters',
                                     coalesce(quote_literal(schedule), 'NULL')));
    END IF;
    f := regexp_split_to_array(btrim(CASE WHEN glue_form THEN substring(schedule FROM '\((.*)\)') ELSE schedule END), ' +');
    IF glue_form THEN
        IF cardinality(f) <> 6 THEN
            PERFORM glue._invalid(format('schedule "%s" is not cron(Minutes Hours Day-of-month Month Day-of-week Year)', schedule),
                                  'For example cron(15 12 * * ? *) runs daily at 12:15, cron(0/15 * * * ? *) every 15 minutes.');
        END IF;
        IF f[6] NOT IN ('*', '?') THEN
            PERFORM glue._invalid(format('schedule "%s": the year part "%s" is not *; pg_cron cannot express years', schedule, f[6]),
                                  'Use * as the year.');
        END IF;
        RETURN array_to_string(ARRAY[
            glue._cron_field(schedule, 'minutes', f[1], 0, 59),
            glue._cron_field(schedule, 'hours', f[2], 0, 23),
            glue._cron_field(schedule, 'day-of-month', f[3], 1, 31, any_ok => true),
            glue._cron_field(schedule, 'month', f[4], 1, 12, months, 1),
            glue._cron_field(schedule, 'day-of-week', f[5], 0, 6, days, 0, -1, true)], ' ');
    END IF;
    IF cardinality(f) <> 5 THEN
        PERFORM glue._invalid(format('schedule "%s" is neither cron(Minutes Hours Day-of-month Month Day-of-week Year) '
                                     'nor five cron fields', schedule),
                              'For example cron(0/15 * * * ? *), or */15 * * * *.');
    END IF;
    RETURN array_to_string(ARRAY[
        glue._cron_field(schedule, 'minute', f[1], 0, 59),
        glue._cron_field(schedule, 'hour', f[2], 0, 23),
        glue._cron_field(schedule, 'day-of-month', f[3], 1, 31),
        glue._cron_field(schedule, 'month', f[4], 1, 12, months, 1),
        glue._cron_field(schedule, 'day-of-week', f[5], 0, 7, days, 0)], ' ');
END
$$;
