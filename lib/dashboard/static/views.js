// The dashboard's views, in the order of the menu: each is one module under views/ that
// exports mount(root, ctx) and returns what to do when it is left (see app.js).

/** Every view: its id (the URL's #/id), its menu title, and its module. */
export const views = [
  { id: 'overview', title: 'Overview', load: () => import('./views/overview.js') },
  { id: 'nodes', title: 'Nodes', load: () => import('./views/nodes.js') },
  { id: 'actors', title: 'Actors', load: () => import('./views/actors.js') },
  { id: 'tasks', title: 'Tasks', load: () => import('./views/tasks.js') },
  { id: 'objects', title: 'Objects & memory', load: () => import('./views/objects.js') },
  { id: 'workers', title: 'Workers', load: () => import('./views/workers.js') },
  { id: 'jobs', title: 'Jobs', load: () => import('./views/jobs.js') },
  { id: 'timeline', title: 'Timeline', load: () => import('./views/timeline.js') },
  { id: 'logs', title: 'Logs', load: () => import('./views/logs.js') },
];
