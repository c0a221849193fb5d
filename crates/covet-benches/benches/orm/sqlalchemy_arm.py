"""SQLAlchemy 2 async (asyncpg) arm of covet-benches' orm bench.

Started by benches/orm/python.rs with the bench database's URL; it reads
commands on stdin, one per line, and answers on stdout:

    run <workload> <a> <b> <iters> <seq>  ->  ok <seconds per op> <count>
    quit

The workloads and their data are those of benches/orm.rs; each operation
uses a fresh session (the ORM's unit of work) on an engine whose pool holds
one connection, and loads ORM objects with every column.
"""

import asyncio
import datetime
import sys
import time
from typing import Optional

import sqlalchemy
from sqlalchemy import ForeignKey, Text, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    hair_color: Mapped[Optional[str]]
    posts: Mapped[list["Post"]] = relationship(back_populates="user", lazy="raise")


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str]
    body: Mapped[Optional[str]] = mapped_column(Text)
    user: Mapped[User] = relationship(back_populates="posts", lazy="raise")
    comments: Mapped[list["Comment"]] = relationship(lazy="raise")


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    text: Mapped[str] = mapped_column(Text)


class StdUser(Base):
    __tablename__ = "std_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    email: Mapped[str]
    age: Mapped[int]
    hair_color: Mapped[Optional[str]]
    created_at: Mapped[datetime.datetime]


class StdPost(Base):
    __tablename__ = "std_posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("std_users.id"))
    title: Mapped[str]
    body: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime.datetime]
    user: Mapped[StdUser] = relationship(lazy="raise")


COLORS = ["black", "brown", "blond", "red"]
CREATED = datetime.datetime(2024, 1, 1, 12, 0, 0)


async def trivial(session, a, b, seq):
    return len((await session.scalars(select(User))).all())


async def medium(session, a, b, seq):
    stmt = (
        select(User, Post)
        .outerjoin(Post, Post.user_id == User.id)
        .where(User.hair_color == "black")
    )
    return len((await session.execute(stmt)).all())


async def insert(session, a, b, seq):
    async with session.begin():
        session.add_all([User(name=f"User {i}", hair_color="hair_color") for i in range(a)])
    return a


async def associations(session, a, b, seq):
    stmt = select(User).options(selectinload(User.posts).selectinload(Post.comments))
    users = (await session.scalars(stmt)).all()
    return sum(1 + sum(1 + len(p.comments) for p in u.posts) for u in users)


async def adults(session, a, b, seq):
    return len((await session.scalars(select(StdUser).where(StdUser.age >= 18))).all())


async def bulk(session, a, b, seq):
    rows = [
        StdUser(
            name=f"bulk {seq} {i}",
            email=f"bulk{seq}_{i}@example.com",
            age=10 + i % 71,
            hair_color=None if i % 5 == 0 else COLORS[i % 4],
            created_at=CREATED,
        )
        for i in range(a)
    ]
    async with session.begin():
        session.add_all(rows)
    return a


async def related(session, a, b, seq):
    if b == 0:
        stmt = (
            select(StdPost)
            .options(joinedload(StdPost.user, innerjoin=True))
            .order_by(StdPost.id)
            .limit(a)
        )
        posts = (await session.scalars(stmt)).all()
        return len([(p, p.user) for p in posts])
    posts = (await session.scalars(select(StdPost).order_by(StdPost.id).limit(a))).all()
    out = []
    for p in posts:
        u = (await session.execute(select(StdUser).where(StdUser.id == p.user_id))).scalar_one()
        out.append((p, u))
    return len(out)


WORK = {
    "trivial": trivial,
    "medium": medium,
    "insert": insert,
    "associations": associations,
    "adults": adults,
    "bulk": bulk,
    "related": related,
}


async def main(url):
    if int(sqlalchemy.__version__.split(".")[0]) < 2:
        print(f"error SQLAlchemy {sqlalchemy.__version__} is older than 2", flush=True)
        return
    engine = create_async_engine(url, pool_size=1, max_overflow=0, connect_args={"ssl": False})
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with engine.connect() as conn:
        await conn.exec_driver_sql("SELECT 1")
    print(f"ready SQLAlchemy {sqlalchemy.__version__}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        parts = line.split()
        if not parts or parts[0] == "quit":
            break
        try:
            _, work, a, b, iters, seq = parts
            fn = WORK[work]
            a, b, iters, seq = int(a), int(b), int(iters), int(seq)
            count = 0
            t0 = time.perf_counter()
            for k in range(iters):
                async with sessions() as session:
                    count = await fn(session, a, b, seq + k)
            per_op = (time.perf_counter() - t0) / max(iters, 1)
            print(f"ok {per_op!r} {count}", flush=True)
        except Exception as e:  # reported to the bench, which leaves the arm out
            msg = " ".join(str(e).split())[:300]
            print(f"err {type(e).__name__}: {msg}", flush=True)
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
