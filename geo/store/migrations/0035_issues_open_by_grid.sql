-- A grid worker's queue ("我的待办") is the open cases of their grids by deadline, and a
-- phone asks for it all day. Found through the grid index and the open-deadline index
-- (a bitmap of both, then a sort), it cost about 10 ms a million cases in; an index of
-- the open cases by grid and deadline gives them in order (under a millisecond), as
-- issues_department_idx does for a department's queue. Only open cases are in it.
CREATE INDEX issues_open_grid_idx ON issues (grid_id, deadline)
    WHERE status NOT IN ('closed', 'void');
