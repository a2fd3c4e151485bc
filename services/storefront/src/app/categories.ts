// The category tree (three levels) serves the header menu, the home page tiles, category
// pages and breadcrumbs from one cached query.
import { useQuery } from '@apollo/client/react';
import { ShopCategoryTreeDocument, type CategoryLinkFragment } from '../gql/graphql';

export interface CategoryNode extends CategoryLinkFragment {
  children?: CategoryNode[];
}

export function useCategoryTree() {
  const { data, loading, error, refetch } = useQuery(ShopCategoryTreeDocument);
  return {
    roots: (data?.rootCategories ?? []) as CategoryNode[],
    loading,
    error,
    refetch,
  };
}

/** The path from a root to the category with this slug (root first), or null. */
export function findCategoryPath(roots: CategoryNode[], slug: string): CategoryNode[] | null {
  for (const node of roots) {
    if (node.slug === slug) return [node];
    const below = findCategoryPath(node.children ?? [], slug);
    if (below) return [node, ...below];
  }
  return null;
}
