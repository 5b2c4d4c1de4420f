-- natal 0009: an identity for an unclassified collection is never refused for its births,
-- and identity decisions record natal's actor (0007) rather than the session's user.

-- Records an identity (the owner's decision, or a certain proposal). Refused while births
-- made under another identity exist for the collection, unless forced; a wired collection
-- is re-wired to the new identity. An unclassified collection has no identity its births
-- could have been made under (natal cannot wire it; its births came from elsewhere, an
-- import or the platform's own triggers), so giving it one is never refused: that is how
-- a platform's old births are taken over. The decision records its actor.
CREATE OR REPLACE FUNCTION set_identity(p_collection text, p_strategy identity_strategy, p_column name,
                             p_reason text, p_evidence jsonb, p_force boolean,
                             p_source text DEFAULT 'owner')
RETURNS collection_registry
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
  c collection_registry := find_collection(p_collection);
  rel regclass := collection_table(c);
  keys name[] := CASE WHEN rel IS NOT NULL THEN key_columns(rel) END;
  born bigint;
BEGIN
  PERFORM 1 FROM collection_registry r WHERE r.collection_name = c.collection_name FOR UPDATE;
  IF p_strategy IN ('column', 'legacy') AND p_column IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009', MESSAGE = format('identity %s needs a column', p_strategy),
      HINT = 'give --column COL';
  END IF;
  IF p_column IS NOT NULL AND rel IS NOT NULL AND NOT has_column(rel, p_column) THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009', MESSAGE = format('table %s has no column %I', rel, p_column),
      HINT = 'name an existing column';
  END IF;
  IF p_strategy = 'synthetic_id' AND cardinality(keys) IS DISTINCT FROM 1 THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = format('collection %s has no single-column primary key for a synthetic id', p_collection),
      HINT = 'choose composite for a multi-column key, or a code column';
  END IF;
  IF p_strategy = 'composite' AND COALESCE(cardinality(keys), 0) < 2 THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = format('collection %s has no multi-column primary key for a composite identity', p_collection),
      HINT = 'choose synthetic_id or a code column';
  END IF;
  IF p_strategy = 'unclassified'
     AND COALESCE(p_reason, '') NOT IN ('no-id', 'needs-owner', 'no-table', 'duplicate-codes', 'null-codes') THEN
    RAISE EXCEPTION USING ERRCODE = 'NB009',
      MESSAGE = 'unclassified needs a reason: no-id, needs-owner, no-table, duplicate-codes or null-codes',
      HINT = 'give --reason';
  END IF;
  IF (c.birth_code_strategy, c.birth_code_column) IS DISTINCT FROM (p_strategy, p_column)
     AND c.birth_code_strategy <> 'unclassified' THEN
    SELECT count(*) INTO born FROM birth_registry
    WHERE collection_name = c.collection_name AND operation <> 'catalog';
    IF born > 0 AND NOT p_force THEN
      RAISE EXCEPTION USING ERRCODE = 'NB013',
        MESSAGE = format('collection %s has %s births made under its identity %s; changing it would orphan them',
                         p_collection, born, c.birth_code_strategy),
        HINT = 'the owner can force it: natal identity set TABLE … --force';
    END IF;
  END IF;
  UPDATE collection_registry AS r
  SET birth_code_strategy = p_strategy,
      birth_code_column = CASE WHEN p_strategy IN ('column', 'legacy') THEN p_column END,
      birth_code_key_columns = CASE WHEN rel IS NOT NULL THEN keys ELSE r.birth_code_key_columns END,
      birth_code_reason = p_reason,
      birth_code_evidence = COALESCE(p_evidence, r.birth_code_evidence),
      birth_code_set_by = actor(),
      birth_code_set_at = now(),
      birth_code_source = p_source
  WHERE r.collection_name = c.collection_name
  RETURNING r.* INTO c;
  PERFORM rewire_if_wired(c.collection_name);
  RETURN c;
END
$$;
