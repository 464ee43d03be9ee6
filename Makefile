# Makefile for kinesis_glue (PGXS)
#
#   make                 build the shared library and the install script
#   make DEBUG=1         build with assertions and without optimisation (tests)
#   make WERROR=1        turn warnings into errors (CI and ./test.sh; a user's
#                        newer compiler must not break the build)
#   make install         install into the PostgreSQL found by $(PG_CONFIG)
#   ./test.sh            run every test layer (see README)

EXTENSION = kinesis_glue
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" kinesis_glue.control)

MODULE_big = kinesis_glue
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/*/*.c)))

# The install script of the current version is the concatenation of the
# per-component SQL files, in dependency order.  Released versions are frozen:
# kinesis_glue--0.1.0.sql is the 0.1.0 script as released (commit 6194b42),
# never regenerated; kinesis_glue--<old>--<new>.sql upgrade an installed
# extension (ALTER EXTENSION kinesis_glue UPDATE).  Every schema change to the
# component files adds to the upgrade script of the current version and must
# pass test/t/096_upgrade.pl (upgraded schema = fresh schema).
COMPONENT_SQL = src/common/common.sql \
	src/worker/worker.sql \
	src/streams/streams.sql \
	src/streams/consumers.sql \
	src/streams/mappings.sql \
	src/streams/stream_metadata.sql \
	src/firehose/firehose.sql \
	src/firehose/firehose_delivery.sql \
	src/glue/catalog.sql \
	src/glue/partitions.sql \
	src/glue/relations.sql \
	src/glue/cron.sql \
	src/glue/crawlers.sql \
	src/glue/crawl.sql \
	src/glue/crawl_catalog.sql \
	src/video/video.sql \
	src/video/video_read.sql \
	src/video/video_hls.sql \
	src/video/video_processors.sql \
	src/glue/jobs.sql \
	src/glue/job_runs.sql \
	src/glue/triggers.sql \
	src/glue/workflows.sql \
	src/glue/transforms.sql \
	src/common/dump.sql
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
# the frozen 0.1.0 release, the upgrade script, and the PL/Proxy routing layer,
# a second extension (cluster/, README "Scaling out")
DATA = $(EXTENSION)--0.1.0.sql $(EXTENSION)--0.1.0--0.2.0.sql \
	cluster/kinesis_glue_cluster.control cluster/kinesis_glue_cluster--0.1.0.sql

# the C parts of kinesis_glue_cluster: the proxy side of put_records (routing, sections, the
# PL/Proxy call) and the node side (kinesis_node.put_records)
MODULES = cluster/kinesis_glue_cluster cluster/kinesis_glue_node

# zlib for gzip-compressed Firehose objects
SHLIB_LINK = -lz
PG_CPPFLAGS = -DKG_EXTVERSION='"$(EXTVERSION)"' -Isrc -Wall -Wextra -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare
ifdef WERROR
PG_CPPFLAGS += -Werror
endif
ifdef DEBUG
PG_CPPFLAGS += -DUSE_ASSERT_CHECKING -O0 -g
endif

# pg_regress: sql/ and expected/ at the top level, on a private temporary
# instance that preloads the library.  The security_* files run last: the
# other files' expected output names the ids of the streams they create.
REGRESS = $(patsubst sql/%.sql,%,$(sort $(filter-out sql/security_%,$(wildcard sql/*.sql))) \
	$(sort $(wildcard sql/security_*.sql)))
REGRESS_OPTS = --inputdir=. --temp-instance=tmp_check_regress \
	--temp-config=test/regress.conf
# Isolation specs live in test/specs with outputs in test/expected.
ISOLATION = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --temp-instance=tmp_check_iso \
	--temp-config=test/regress.conf
# TAP tests in test/t
TAP_TESTS = 1
PROVE_TESTS = $(sort $(wildcard test/t/*.pl))

EXTRA_CLEAN = $(DATA_built) tmp_check_regress tmp_check_iso output_iso \
	results regression.diffs regression.out tmp_check log

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# the TAP tests' shared module (test/perl/KgTest.pm); prove runs in $(srcdir)
PG_PROVE_FLAGS += -I $(srcdir)/test/perl

# PGXS tracks no header dependencies here: rebuild everything when a header changes.
$(OBJS): $(wildcard src/*.h src/*/*.h)
# the library refuses SQL objects of another version (KG_EXTVERSION)
$(OBJS): kinesis_glue.control

$(EXTENSION)--$(EXTVERSION).sql: $(COMPONENT_SQL) kinesis_glue.control
	( echo "-- $(EXTENSION) $(EXTVERSION): generated from $(COMPONENT_SQL); do not edit"; \
	  printf '%s\n' '\echo Use "CREATE EXTENSION $(EXTENSION)" to load this file. \quit'; \
	  for f in $(COMPONENT_SQL); do echo; echo "-- ---- $$f"; cat $$f; done ) > $@

.PHONY: regresscheck isolationcheck tapcheck
regresscheck:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)
isolationcheck:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)
tapcheck:
	$(prove_installcheck)

# The wire gateway (gateway/): a separate program, built with `make` and
# installed with `make install` when its libraries are present (see
# KG_PACKAGES in test/harness/lib.sh); `make gateway` builds it or fails.
GATEWAY_LIBS_OK := $(shell pkg-config --exists libevent libevent_openssl libnghttp2 json-c yajl libcbor libssl libpq 2>/dev/null && \
	test -f /usr/include/http_parser.h && echo yes)
.PHONY: gateway install-gateway clean-gateway
gateway:
	$(MAKE) -C gateway PG_CONFIG='$(PG_CONFIG)'
install-gateway: gateway
	$(MAKE) -C gateway install PG_CONFIG='$(PG_CONFIG)'
clean-gateway:
	$(MAKE) -C gateway clean
ifeq ($(GATEWAY_LIBS_OK),yes)
all: gateway
install: install-gateway
else
$(info kinesis_glue_gateway is not built: libevent-dev, libnghttp2-dev, libhttp-parser-dev, libjson-c-dev, libyajl-dev, libcbor-dev, libssl-dev or libpq-dev is missing)
endif
clean: clean-gateway
